package contract

import (
	"strings"
	"testing"
)

func TestClausesOfTheShippedContract(t *testing.T) {
	cs := Clauses()
	if len(cs) < 50 {
		t.Fatalf("%d clauses; docs/contract.md marks more", len(cs))
	}
	byID := map[string]Clause{}
	for _, c := range cs {
		byID[c.ID] = c
		if c.Text == "" || c.Section == "" {
			t.Errorf("clause %s: empty text or section: %+v", c.ID, c)
		}
	}
	for id, want := range map[string]bool{
		"http.chat.source":        false,
		"http.refresh.unlinked":   true,  // an inline **(reference)**
		"metrics.zero-series":     true,  // in a paragraph that starts with **(reference)**
		"behaviour.short-circuit": false, // a contract promise with a reference aside
		"http.database-breaker":   true,
		"env.reference-settings":  true,
	} {
		c, ok := byID[id]
		if !ok {
			t.Errorf("no clause %s", id)
			continue
		}
		if c.Reference != want {
			t.Errorf("clause %s: reference %v, want %v (%q)", id, c.Reference, want, c.Text)
		}
	}
	if c := byID["http.refresh.unknown"]; c.Text != "`404` unknown chat;" {
		t.Errorf("http.refresh.unknown text %q: want only what follows the previous clause", c.Text)
	}
	if c := byID["process.sigterm"]; c.Section != "Process" || !strings.HasPrefix(c.Text, "- It stops on SIGTERM") {
		t.Errorf("process.sigterm: %+v", c)
	}
}

func TestParseClausesRefusesBadIDs(t *testing.T) {
	for name, md := range map[string]string{
		"twice":     "## A\n\nOne. `§a.b`\n\nTwo. `§a.b`\n",
		"malformed": "## A\n\nOne. `§A_b`\n",
		"none":      "## A\n\nNothing here.\n",
	} {
		if _, err := ParseClauses(md); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
