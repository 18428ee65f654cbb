package chaos

import "strconv"

// LimitData closes each connection from dep once n bytes have come through it, so long
// answers arrive truncated.
func LimitData(dep Dependency, n int64) Toxic {
	return newToxic(dep, "limit_data", limitDataAttrs{Bytes: n}, strconv.FormatInt(n, 10)+"B", "downstream")
}

type limitDataAttrs struct {
	Bytes int64 `json:"bytes"`
}
