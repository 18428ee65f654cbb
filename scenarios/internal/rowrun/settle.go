package rowrun

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/matrix"
)

// verdict is what an observation says about waiting.
type verdict int

const (
	// verdictMet: the eventual expectations hold.
	verdictMet verdict = iota
	// verdictPending: an eventual expectation is not met yet.
	verdictPending
	// verdictDecided: the row has failed whatever waiting brings.
	verdictDecided
)

// settle polls observe until judge reports the eventual expectations met or within has
// passed (waitPoll spaces these observations), then keeps polling for hold, holdPoll apart
// and once more at its end: an observation that is pending again in that time (a late
// write) ends the wait, and is the one returned. An observation judged decided ends the
// wait at once. A failed observation is retried; only the last counts. It returns the last
// good observation (have is false when there was none, or when ctx ended the wait) and the
// failure to record, if any.
func settle(ctx context.Context, within, hold, poll, holdPoll time.Duration,
	observe func(context.Context) (matrix.Observation, error),
	judge func(matrix.Observation) verdict,
) (last matrix.Observation, have bool, err error) {
	start := time.Now()
	deadline := start.Add(within)
	var settled time.Time
	for {
		obs, oerr := observe(ctx)
		if oerr == nil {
			last, have = obs, true
		}
		now := time.Now()
		v := verdictPending
		if oerr == nil {
			v = judge(obs)
		}
		switch {
		case oerr != nil:
		case v == verdictDecided:
			return last, true, nil
		case v == verdictPending:
			if !settled.IsZero() {
				return last, true, nil
			}
		case settled.IsZero():
			settled = now
		}
		if !settled.IsZero() && now.Sub(settled) >= hold {
			return last, have, nil
		}
		if settled.IsZero() && now.After(deadline) {
			if oerr != nil {
				return last, have, fmt.Errorf("observe: %w", oerr)
			}
			return last, have, nil
		}
		wait := waitPoll(now.Sub(start), deadline.Sub(now), poll, holdPoll)
		if !settled.IsZero() {
			wait = min(holdPoll, settled.Add(hold).Sub(now))
		}
		if !sleep(ctx, wait) {
			return matrix.Observation{}, false, fmt.Errorf("observe: %w", ctx.Err())
		}
	}
}

// waitPoll is the time to the next observation of a row waiting to settle, waited into
// the wait, left to its deadline: poll until eight polls have passed, then an eighth of
// the time waited so far, up to holdPoll. A row is seen to settle within an eighth of its
// wait, at most holdPoll (within poll in its first 800 ms at a poll of 100 ms); one that
// waits ten seconds for its refreshes is observed about fifty times instead of a hundred
// (the observations of waiting rows were most of the harness's scrapes). The last
// observation still comes at most poll after the deadline, as with a constant poll.
func waitPoll(waited, left, poll, holdPoll time.Duration) time.Duration {
	wait := min(max(poll, waited/8), max(poll, holdPoll))
	return min(wait, max(left, 0)+poll)
}

// untilRecovered calls attempt, poll apart, until it reports the recovered behaviour or
// within has passed since lifted. It returns whether it recovered and when the last
// attempt was made, measured from lifted.
func untilRecovered(ctx context.Context, lifted time.Time, within, poll time.Duration,
	attempt func(context.Context) bool,
) (recovered bool, after time.Duration) {
	deadline := lifted.Add(within)
	for {
		ok := attempt(ctx)
		after = time.Since(lifted)
		if ok {
			return true, after
		}
		if time.Now().After(deadline) || !sleep(ctx, poll) {
			return false, after
		}
	}
}
