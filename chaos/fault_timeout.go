package chaos

import "time"

// Blackhole lets the SUT connect to dep but drops every byte both ways, so connections
// hang until the SUT's own deadline gives up. The undo closes the hung connections.
func Blackhole(dep Dependency) Toxic {
	return newToxic(dep, "blackhole", timeoutAttrs{Timeout: 0}, "", "upstream", "downstream")
}

// Timeout drops every byte from dep and closes the connection after d, as a dependency
// does that stops answering and is then killed by a load balancer.
func Timeout(dep Dependency, d time.Duration) Toxic {
	return newToxic(dep, "timeout", timeoutAttrs{Timeout: millis(d)}, d.String(), "downstream")
}

type timeoutAttrs struct {
	Timeout int64 `json:"timeout"`
}
