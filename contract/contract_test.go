package contract

import "testing"

func TestParseDependencyAcceptsNamesAndServiceLabels(t *testing.T) {
	for in, want := range map[string]Dependency{
		"postgres": Postgres, "database": Postgres, "redis": Redis, "max_api": MaxAPI,
	} {
		got, err := ParseDependency(in)
		if err != nil || got != want {
			t.Errorf("ParseDependency(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "pg", "maxapi", "Redis"} {
		if _, err := ParseDependency(in); err == nil {
			t.Errorf("ParseDependency(%q) accepted", in)
		}
	}
}

func TestServiceLabels(t *testing.T) {
	want := map[Dependency]string{Postgres: "database", Redis: "redis", MaxAPI: "max_api"}
	for _, d := range Dependencies() {
		if d.ServiceLabel() != want[d] {
			t.Errorf("%s.ServiceLabel() = %q, want %q", d, d.ServiceLabel(), want[d])
		}
	}
}
