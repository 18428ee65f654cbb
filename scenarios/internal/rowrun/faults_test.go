package rowrun

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

func TestPlanFaultsMapsEveryKind(t *testing.T) {
	cases := []struct {
		dep     matrix.Dependency
		fault   matrix.Fault
		want    string
		passing bool
		freezes bool
	}{
		{matrix.Postgres, matrix.Fault{Kind: matrix.FaultDown}, chaos.Down(chaos.Postgres).String(), false, false},
		{matrix.Redis, matrix.Fault{Kind: matrix.FaultDown}, chaos.Down(chaos.Redis).String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultDown}, chaos.Down(chaos.MaxAPI).String(), false, false},
		{matrix.Redis, matrix.Fault{Kind: matrix.FaultBlackhole}, chaos.Blackhole(chaos.Redis).String(), false, false},
		{matrix.Postgres, matrix.Fault{Kind: matrix.FaultBlackhole}, chaos.Blackhole(chaos.Postgres).String(), false, false},
		{matrix.Postgres, matrix.Fault{Kind: matrix.FaultLatency, Delay: 3 * time.Second}, chaos.Latency(chaos.Postgres, 3*time.Second, 0).String(), false, false},
		{matrix.Redis, matrix.Fault{Kind: matrix.FaultReset}, chaos.Reset(chaos.Redis).String(), false, false},
		{matrix.Redis, matrix.Fault{Kind: matrix.FaultRestartedEmpty}, chaos.ContainerStopped(chaos.Redis).String(), true, false},
		{matrix.Redis, matrix.Fault{Kind: matrix.FaultPaused}, chaos.ContainerPaused(chaos.Redis).String(), false, true},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultStatus, Status: http.StatusServiceUnavailable}, chaos.MaxStatus(503).String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultRateLimited, RetryAfter: 30 * time.Second}, chaos.MaxRateLimited(30 * time.Second).String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultUnauthorized}, chaos.MaxUnauthorized().String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultSlow, Delay: 3 * time.Second}, chaos.MaxSlow(3 * time.Second).String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultHang}, chaos.MaxHang().String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultMalformed}, chaos.MaxMalformed().String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultWrongTypes}, chaos.MaxWrongTypes().String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultTruncated}, chaos.MaxTruncated().String(), false, false},
		{matrix.MaxAPI, matrix.Fault{Kind: matrix.FaultOversized}, chaos.MaxOversized(oversizedBody).String(), false, false},
	}
	covered := map[matrix.FaultKind]bool{matrix.FaultUp: true}
	for _, c := range cases {
		covered[c.fault.Kind] = true
		var g matrix.Given
		switch c.dep {
		case matrix.Postgres:
			g.Postgres = c.fault
		case matrix.Redis:
			g.Redis = c.fault
		case matrix.MaxAPI:
			g.MaxAPI = c.fault
		}
		p, err := PlanFaults(g)
		if err != nil {
			t.Errorf("%s of %s: %v", c.fault, c.dep, err)
			continue
		}
		got := p.Held
		if c.passing {
			got = p.Passing
			if len(p.Held) != 0 {
				t.Errorf("%s of %s: held %v, want none", c.fault, c.dep, p.Held)
			}
		} else if len(p.Passing) != 0 {
			t.Errorf("%s of %s: passing %v, want none", c.fault, c.dep, p.Passing)
		}
		if len(got) != 1 || got[0].String() != c.want {
			t.Errorf("%s of %s: got %v, want %s", c.fault, c.dep, got, c.want)
		}
		if frozen := len(p.Freezing) == 1; frozen != c.freezes {
			t.Errorf("%s of %s: freezing %v, want %v", c.fault, c.dep, p.Freezing, c.freezes)
		}
	}
	for _, k := range matrix.FaultKinds() {
		if !covered[k] {
			t.Errorf("fault kind %s has no case here", k)
		}
		if _, ok := faultTable[k]; !ok && k != matrix.FaultUp {
			t.Errorf("fault kind %s has no chaos fault", k)
		}
	}
}

func TestPlanFaultsEveryRow(t *testing.T) {
	for _, r := range matrix.Rows() {
		p, err := PlanFaults(r.Given)
		if err != nil {
			t.Errorf("%s: %v", r.ID, err)
			continue
		}
		if n := len(p.Held) + len(p.Passing); n != len(r.Given.Active()) {
			t.Errorf("%s: %d faults for %d faulty dependencies", r.ID, n, len(r.Given.Active()))
		}
	}
}

func TestPlanFaultsRefusesWhatCannotApply(t *testing.T) {
	for _, g := range []matrix.Given{
		{Redis: matrix.Fault{Kind: matrix.FaultStatus, Status: 503}},
		{MaxAPI: matrix.Fault{Kind: matrix.FaultPaused}},
		{Postgres: matrix.Fault{Kind: "melted"}},
	} {
		if _, err := PlanFaults(g); err == nil {
			t.Errorf("%s: no error", g.Summary())
		}
	}
}

func TestPlanFaultsKeepsDependencyOrder(t *testing.T) {
	g := matrix.Given{
		Postgres: matrix.Fault{Kind: matrix.FaultDown},
		Redis:    matrix.Fault{Kind: matrix.FaultDown},
		MaxAPI:   matrix.Fault{Kind: matrix.FaultDown},
	}
	p, err := PlanFaults(g)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range p.Held {
		names = append(names, f.String())
	}
	want := []string{"down(postgres)", "down(redis)", "down(max_api)"}
	if !slices.Equal(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
}

func TestPlanFaultsLimitsAMaxFaultToItsFirstChatCalls(t *testing.T) {
	p, err := PlanFaults(matrix.Given{MaxAPI: matrix.Fault{Kind: matrix.FaultRateLimited, RetryAfter: 5 * time.Second, Times: 1}})
	if err != nil || len(p.Held) != 1 {
		t.Fatalf("plan %+v, %v", p, err)
	}
	mf, ok := p.Held[0].(chaos.MaxFault)
	if !ok {
		t.Fatalf("held %T, want a MAX fault", p.Held[0])
	}
	if f := mf.Fault(); f.Times != 1 || f.Endpoint != maxapi.EndpointChat || f.Status != 429 {
		t.Errorf("fault %+v, want 429 on the first chat call only", f)
	}
}
