package chaos

import "time"

// Latency delays every chunk of data from dep by d, plus or minus up to jitter.
func Latency(dep Dependency, d, jitter time.Duration) Toxic {
	return newToxic(dep, "latency", latencyAttrs{Latency: millis(d), Jitter: millis(jitter)},
		d.String()+"±"+jitter.String(), "downstream")
}

type latencyAttrs struct {
	Latency int64 `json:"latency"`
	Jitter  int64 `json:"jitter"`
}
