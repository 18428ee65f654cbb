package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/matrix"
)

func ids(rows []matrix.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func TestSelectRowsAppliesScopeShardRowAndLabels(t *testing.T) {
	all := matrix.Rows()
	got, _, err := selectRows("", "", "", false)
	if err != nil || len(got) != len(all) {
		t.Fatalf("no selection: %d rows, %v", len(got), err)
	}
	contract, describe, _ := selectRows("", "", "", true)
	if len(contract) >= len(all) || !strings.Contains(describe, "contract") ||
		slices.ContainsFunc(contract, func(r matrix.Row) bool { return r.Reference }) {
		t.Errorf("contract-only kept %d of %d rows (%q)", len(contract), len(all), describe)
	}
	seen := map[string]bool{}
	for _, s := range []string{"1/3", "2/3", "3/3"} {
		rows, _, err := selectRows(s, "", "", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids(rows) {
			if seen[id] {
				t.Errorf("row %s in two shards", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != len(all) {
		t.Errorf("the shards ran %d of %d rows", len(seen), len(all))
	}
	one, _, err := selectRows("", all[3].ID, "", false)
	if err != nil || !slices.Equal(ids(one), []string{all[3].ID}) {
		t.Errorf("-row: %v %v", ids(one), err)
	}
	redis, _, err := selectRows("", "", "dep:redis && fault:blackhole", false)
	if err != nil || len(redis) == 0 {
		t.Fatalf("-labels: %v", err)
	}
	for _, r := range redis {
		if r.Given.Redis.Kind != matrix.FaultBlackhole {
			t.Errorf("-labels selected %s", r.ID)
		}
	}
	for _, bad := range [][3]string{{"5/4", "", ""}, {"", "no-such-row", ""}, {"", "", "dep:redis &&"}} {
		if _, _, err := selectRows(bad[0], bad[1], bad[2], false); err == nil {
			t.Errorf("selectRows(%q) accepted", bad)
		}
	}
}

func TestParseNamesTheRowsItRuns(t *testing.T) {
	t.Setenv("MATRIX_PROCS", "")
	t.Setenv("MATRIX_CONTRACT_ONLY", "")
	t.Setenv("CHAOS_BACKEND", "process")
	t.Setenv("CHAOS_RACE", "0")
	all := matrix.Rows()
	o, err := parse([]string{"-row", all[0].ID, "-procs", "8", "-out", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Rows != 1 || o.Procs != 1 || o.LabelFilter != "row:"+all[0].ID {
		t.Errorf("one row: %d rows, %d procs, filter %q", o.Rows, o.Procs, o.LabelFilter)
	}
	o, err = parse([]string{"-out", t.TempDir()}, io.Discard)
	if err != nil || o.LabelFilter != "" || o.Rows != len(all) || o.Procs != DefaultProcs {
		t.Errorf("every row: filter %q, %d rows, %d procs, %v", o.LabelFilter, o.Rows, o.Procs, err)
	}
	if _, err := parse([]string{"-procs", "-1"}, io.Discard); err == nil {
		t.Error("-procs -1 accepted")
	}
	t.Setenv("CHAOS_RACE", "1")
	if o, err := parse([]string{"-out", t.TempDir()}, io.Discard); err != nil || o.Procs != DefaultRaceProcs {
		t.Errorf("a -race service: %d procs, %v; want %d", o.Procs, err, DefaultRaceProcs)
	}
	t.Setenv("CHAOS_RACE", "0")
	t.Setenv("CHAOS_BACKEND", "docker")
	if o, err := parse([]string{"-out", t.TempDir()}, io.Discard); err != nil || o.Procs != DefaultDockerProcs {
		t.Errorf("docker backend: %d procs, %v; want %d", o.Procs, err, DefaultDockerProcs)
	}
}
