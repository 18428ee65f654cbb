package rowrun

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/matrix"
)

// script is a fake observer: the i-th call returns the i-th entry (the last one repeats).
type script []seen

type seen struct {
	id      string // put in Observation.RowID, to tell observations apart
	pending bool
	decided bool
	err     error
}

func (s script) run() (observe func(context.Context) (matrix.Observation, error), judge func(matrix.Observation) verdict, calls *int) {
	n := 0
	byID := map[string]verdict{}
	for _, st := range s {
		switch {
		case st.decided:
			byID[st.id] = verdictDecided
		case st.pending:
			byID[st.id] = verdictPending
		default:
			byID[st.id] = verdictMet
		}
	}
	observe = func(context.Context) (matrix.Observation, error) {
		st := s[min(n, len(s)-1)]
		n++
		if st.err != nil {
			return matrix.Observation{RowID: "failed " + st.id}, st.err
		}
		return matrix.Observation{RowID: st.id}, nil
	}
	judge = func(o matrix.Observation) verdict { return byID[o.RowID] }
	return observe, judge, &n
}

func TestSettle(t *testing.T) {
	const poll = time.Millisecond
	boom := errors.New("scrape failed")
	cases := []struct {
		name         string
		script       script
		within, hold time.Duration
		want         string // RowID of the returned observation; "" when none
		wantErr      string
		minCalls     int
		maxCalls     int // 0: any number
	}{
		{"settles, then holds for hold", script{{id: "busy", pending: true}, {id: "busy", pending: true}, {id: "done"}},
			time.Minute, 20 * time.Millisecond, "done", "", 4, 0},
		{"a late change inside hold ends the wait with it", script{{id: "done"}, {id: "done"}, {id: "late", pending: true}},
			time.Minute, time.Minute, "late", "", 3, 3},
		{"never settles: the last observation when within has passed", script{{id: "a", pending: true}, {id: "b", pending: true}},
			20 * time.Millisecond, time.Minute, "b", "", 2, 0},
		{"a failed observation is retried", script{{id: "x", err: boom}, {id: "done"}},
			time.Minute, 0, "done", "", 2, 2},
		{"failing at the deadline: the failure and the last good observation", script{{id: "a", pending: true}, {id: "b", err: boom}},
			20 * time.Millisecond, time.Minute, "a", "observe: scrape failed", 2, 0},
		{"a decided row is observed once", script{{id: "failed", decided: true}, {id: "done"}},
			time.Minute, time.Minute, "failed", "", 1, 1},
		{"decided after a pending observation", script{{id: "busy", pending: true}, {id: "failed", decided: true}},
			time.Minute, time.Minute, "failed", "", 2, 2},
		{"never observed at all", script{{id: "b", err: boom}},
			10 * time.Millisecond, time.Minute, "", "observe: scrape failed", 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			observe, judge, calls := tc.script.run()
			got, have, err := settle(t.Context(), tc.within, tc.hold, poll, poll, observe, judge)
			if have != (tc.want != "") || got.RowID != tc.want {
				t.Errorf("observation %q (have %v), want %q", got.RowID, have, tc.want)
			}
			if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			if *calls < tc.minCalls || (tc.maxCalls > 0 && *calls > tc.maxCalls) {
				t.Errorf("%d observations, want %d to %d", *calls, tc.minCalls, tc.maxCalls)
			}
		})
	}
}

func TestSettleHoldsAtItsOwnPaceAndLooksAtItsEnd(t *testing.T) {
	observe, judge, calls := script{{id: "busy", pending: true}, {id: "busy", pending: true}, {id: "done"}}.run()
	var at []time.Time
	timed := func(ctx context.Context) (matrix.Observation, error) {
		at = append(at, time.Now())
		return observe(ctx)
	}
	const poll, hold, holdPoll = time.Millisecond, 100 * time.Millisecond, 40 * time.Millisecond
	got, have, err := settle(t.Context(), time.Minute, hold, poll, holdPoll, timed, judge)
	if !have || err != nil || got.RowID != "done" {
		t.Fatalf("observation %q (have %v), error %v", got.RowID, have, err)
	}
	// Two pending, the settling one at [2], then 40 ms, 80 ms and the end at 100 ms.
	if *calls != 6 {
		t.Fatalf("%d observations, want 6: three to settle, then every 40 ms and the hold's end", *calls)
	}
	if held := at[5].Sub(at[2]); held < hold {
		t.Errorf("the last observation came %v after settling, before the hold's end", held)
	}
	for k := 3; k < 5; k++ {
		if gap := at[k].Sub(at[k-1]); gap < holdPoll {
			t.Errorf("observations %d and %d of the hold %v apart, under %v", k-1, k, gap, holdPoll)
		}
	}
}

func TestSettleStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	observe, judge, calls := script{{id: "busy", pending: true}}.run()
	counting := func(ctx context.Context) (matrix.Observation, error) {
		if *calls == 2 {
			cancel()
		}
		return observe(ctx)
	}
	_, have, err := settle(ctx, time.Minute, time.Minute, time.Millisecond, time.Millisecond, counting, judge)
	if have || err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("have %v, error %v; want no observation and the context's error", have, err)
	}
}

func TestUntilRecovered(t *testing.T) {
	lifted := time.Now()
	n := 0
	ok, after := untilRecovered(t.Context(), lifted, time.Minute, time.Millisecond, func(context.Context) bool {
		n++
		return n == 3
	})
	if !ok || n != 3 || after <= 0 {
		t.Errorf("recovered %v after %d attempts (%s); want true after 3", ok, n, after)
	}

	n = 0
	ok, after = untilRecovered(t.Context(), time.Now(), 20*time.Millisecond, time.Millisecond, func(context.Context) bool {
		n++
		return false
	})
	if ok || n < 2 || after < 20*time.Millisecond {
		t.Errorf("recovered %v after %d attempts (%s); want false once 20ms have passed", ok, n, after)
	}

	ctx, cancel := context.WithCancel(t.Context())
	n = 0
	ok, _ = untilRecovered(ctx, time.Now(), time.Minute, time.Millisecond, func(context.Context) bool {
		n++
		if n == 2 {
			cancel()
		}
		return false
	})
	if ok || n != 2 {
		t.Errorf("recovered %v after %d attempts; want false, stopping at the cancelled context", ok, n)
	}
}

func TestWaitPollGrowsWithTheWaitUpToHoldPoll(t *testing.T) {
	const poll, holdPoll = 100 * time.Millisecond, 250 * time.Millisecond
	cases := []struct {
		waited, left, want time.Duration
	}{
		{0, 10 * time.Second, poll},
		{800 * time.Millisecond, 10 * time.Second, poll},
		{1600 * time.Millisecond, 10 * time.Second, 200 * time.Millisecond},
		{10 * time.Second, 10 * time.Second, holdPoll},
		// Close to the deadline: at most poll past it.
		{5 * time.Second, 50 * time.Millisecond, 150 * time.Millisecond},
		{5 * time.Second, -time.Second, poll},
	}
	for _, c := range cases {
		if got := waitPoll(c.waited, c.left, poll, holdPoll); got != c.want {
			t.Errorf("waitPoll(waited %v, left %v) = %v, want %v", c.waited, c.left, got, c.want)
		}
	}
	if got := waitPoll(time.Minute, time.Minute, poll, 0); got != poll {
		t.Errorf("with no hold poll, waitPoll = %v, want poll (%v)", got, poll)
	}
}

func TestSettleObservesALongWaitLessOften(t *testing.T) {
	observe, judge, _ := script{{id: "busy", pending: true}}.run()
	var at []time.Time
	timed := func(ctx context.Context) (matrix.Observation, error) {
		at = append(at, time.Now())
		return observe(ctx)
	}
	const poll, holdPoll, within = 5 * time.Millisecond, 50 * time.Millisecond, 300 * time.Millisecond
	start := time.Now()
	_, _, _ = settle(t.Context(), within, 0, poll, holdPoll, timed, judge)
	// An observation 200 ms into the wait is followed by the next at least 25 ms later
	// (an eighth of the wait), not poll later.
	for k := 1; k < len(at)-1; k++ {
		if waited := at[k-1].Sub(start); waited >= 200*time.Millisecond {
			if gap := at[k].Sub(at[k-1]); gap < waited/8 {
				t.Errorf("observation %d came %v after the one %v into the wait, under an eighth of it", k, gap, waited)
			}
		}
	}
	if len(at) > 40 {
		t.Errorf("%d observations in %v of waiting; at a constant %v about 60", len(at), within, poll)
	}
}
