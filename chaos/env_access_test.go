package chaos

import "testing"

func TestParseCommandCalls(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_get:calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_mget:calls=2,usec=9\r\ncmdstat_set:calls=7,usec=20\r\ncmdstat_getset:calls=5,usec=1\r\n"
	if got := parseCommandCalls(info, cacheReadCommands); got != 5 {
		t.Errorf("read calls %d, want 3 GET + 2 MGET (SET and GETSET are not reads)", got)
	}
}
