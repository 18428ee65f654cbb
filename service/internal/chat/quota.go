package chat

import "time"

// QuotaCall is one MAX call asked of the shared quota.
type QuotaCall struct {
	// Rate is the deployment's budget in calls per second.
	Rate float64
	// MaxWait is the longest wait for a slot that is accepted.
	MaxWait time.Duration
	// ChatID, when non-zero, claims the chat for ClaimFor: no other replica refreshes it
	// meanwhile. Only background refreshes claim; a client's refresh request is answered
	// whatever the others do.
	ChatID   int64
	ClaimFor time.Duration
	// FreshSince and FreshUntil bound the observation times of a cache entry that makes a
	// claimed refresh unnecessary (another replica stored it since the chat was queued);
	// an entry from beyond FreshUntil comes from a clock running ahead and is not fresh.
	FreshSince, FreshUntil time.Time
}

// Reservation is the shared quota's answer to a QuotaCall.
type Reservation struct {
	// OK is a slot taken, Wait from now; not OK, Wait is how long the wait would have been.
	OK   bool
	Wait time.Duration
	// Taken is a claim refused: another replica refreshes the chat or just did.
	Taken bool
	// PausedUntil is the end of the pause MAX imposed on any replica (zero when none).
	PausedUntil time.Time
}
