package chaos

import (
	"slices"
	"strings"
	"testing"
)

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigSUTEnvFromTheEnvironmentComesLast(t *testing.T) {
	c, err := newConfig([]Option{
		WithLookupEnv(lookupFrom(map[string]string{
			"CHAOS_SUT_ENV": " PARTICIPANTS_CACHE_ERROR_POLICY=fail,REDIS_TIMEOUT=50ms  LOG_LEVEL=info ",
		})),
		WithSUTCommand("/bin/true"),
		WithBaseSUTEnv("PARTICIPANTS_CACHE_ERROR_POLICY=fallback"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PARTICIPANTS_CACHE_ERROR_POLICY=fallback", "PARTICIPANTS_CACHE_ERROR_POLICY=fail",
		"REDIS_TIMEOUT=50ms", "LOG_LEVEL=info"}
	if !slices.Equal(c.sutEnv, want) {
		t.Errorf("SUT env %q, want %q", c.sutEnv, want)
	}
	env := sutEnv(c.lookup, map[string]string{"HTTP_ADDR": "x"}, c.sutEnv)
	if env[len(env)-4] != "PARTICIPANTS_CACHE_ERROR_POLICY=fallback" || env[len(env)-3] != "PARTICIPANTS_CACHE_ERROR_POLICY=fail" {
		t.Errorf("the environment's setting must come after the option's: %q", env)
	}
}

func TestConfigRefusesASUTEnvSettingWithoutValue(t *testing.T) {
	_, err := newConfig([]Option{
		WithLookupEnv(lookupFrom(map[string]string{"CHAOS_SUT_ENV": "PARTICIPANTS_CACHE_ERROR_POLICY"})),
		WithSUTCommand("/bin/true"),
	})
	if err == nil {
		t.Fatal("no error for a setting without =")
	}
}

func TestConfigReapOrphans(t *testing.T) {
	for v, keep := range map[string]bool{"": false, "1": false, "0": true, "false": true} {
		c, err := newConfig([]Option{WithLookupEnv(lookupFrom(map[string]string{"CHAOS_REAP_ORPHANS": v})), WithSUTCommand("/bin/true")})
		if err != nil || c.keepOrphans != keep {
			t.Errorf("CHAOS_REAP_ORPHANS=%q: keep %v (%v), want %v", v, c.keepOrphans, err, keep)
		}
	}
	_, err := newConfig([]Option{WithLookupEnv(lookupFrom(map[string]string{"CHAOS_REAP_ORPHANS": "sometimes"})), WithSUTCommand("/bin/true")})
	if err == nil || !strings.Contains(err.Error(), "CHAOS_REAP_ORPHANS") {
		t.Errorf("CHAOS_REAP_ORPHANS=sometimes: %v", err)
	}
}
