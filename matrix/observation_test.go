package matrix

import (
	"strings"
	"testing"
)

func TestObservationStringIsOneShortLine(t *testing.T) {
	o := Observation{RowID: "redis-down.max-up.cache-fresh", Statuses: []int{200, 200},
		Logs: make([]LogEvent, 500), Alerts: &AlertsObserved{Fired: []string{string(AlertCacheDown)}}}
	s := o.String()
	if strings.Contains(s, "\n") || len(s) > 300 || !strings.Contains(s, o.RowID) || !strings.Contains(s, "500 log records") ||
		!strings.Contains(s, string(AlertCacheDown)) {
		t.Errorf("%q", s)
	}
}
