package chaos

import "time"

// SlowClose delays the close of connections from dep by d, as a dependency that is slow
// to let go of sockets.
func SlowClose(dep Dependency, d time.Duration) Toxic {
	return newToxic(dep, "slow_close", slowCloseAttrs{Delay: millis(d)}, d.String(), "downstream")
}

type slowCloseAttrs struct {
	Delay int64 `json:"delay"`
}
