package chaos

import "strconv"

// Bandwidth limits data from dep to kbPerSec kilobytes per second (Toxiproxy's unit).
// Zero lets nothing through, like a link that stalls.
func Bandwidth(dep Dependency, kbPerSec int64) Toxic {
	return newToxic(dep, "bandwidth", bandwidthAttrs{Rate: kbPerSec}, strconv.FormatInt(kbPerSec, 10)+"KB/s", "downstream")
}

type bandwidthAttrs struct {
	Rate int64 `json:"rate"`
}
