package chaos

import "testing"

func TestParseCommandCalls(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_get:calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_mget:calls=2,usec=9\r\ncmdstat_set:calls=7,usec=20\r\ncmdstat_getset:calls=5,usec=1\r\n"
	if got := parseCommandCalls(info, cacheReadCommands); got != 5 {
		t.Errorf("read calls %d, want 3 GET + 2 MGET (SET and GETSET are not reads)", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2"} {
		if err := CheckLoopback(u); err != nil {
			t.Errorf("CheckLoopback(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1:8080", "http://example.com", "://bad"} {
		if err := CheckLoopback(u); err == nil {
			t.Errorf("CheckLoopback(%q) = nil, want an error", u)
		}
	}
}
