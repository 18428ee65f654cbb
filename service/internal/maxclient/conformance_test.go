package maxclient_test

import (
	"time"

	"github.com/faultline/faultline/service/internal/maxclient"
	"github.com/faultline/faultline/service/internal/participants"
)

// The client is what the participants service calls MAX through, and its errors carry
// what participants reads from them through its own small interfaces.
var (
	_ participants.ChatInfoGetter = (*maxclient.Client)(nil)
	_ interface {
		Reason() string
		RetryAfter() time.Duration
	} = (*maxclient.Error)(nil)
)
