package rowrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/faultline/faultline/chaos"
)

// fakeInjector records what is put in place and taken away, in order; faults named in
// fail cannot be applied.
type fakeInjector struct {
	events []string
	fail   map[string]bool
}

func (f *fakeInjector) Inject(_ context.Context, faults ...chaos.Fault) (chaos.UndoFunc, error) {
	var names []string
	for _, x := range faults {
		if f.fail[x.String()] {
			return nil, errors.New("refused")
		}
		names = append(names, x.String())
	}
	f.events = append(f.events, fmt.Sprintf("apply %v", names))
	return func(context.Context) error {
		f.events = append(f.events, fmt.Sprintf("lift %v", names))
		return nil
	}, nil
}

func TestPlanApplyOrdersPassingHeldAndFreezing(t *testing.T) {
	restart := chaos.ContainerStopped(chaos.Redis)
	down := chaos.Down(chaos.MaxAPI)
	paused := chaos.ContainerPaused(chaos.Postgres)
	plan := Plan{Passing: []chaos.Fault{restart}, Held: []chaos.Fault{down, paused}, Freezing: []chaos.Fault{paused}}
	env := &fakeInjector{}
	applied, err := plan.Apply(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("apply [%s]", restart), fmt.Sprintf("lift [%s]", restart),
		fmt.Sprintf("apply [%s]", down), fmt.Sprintf("apply [%s]", paused),
	}
	if !slices.Equal(env.events, want) {
		t.Fatalf("events %q, want %q", env.events, want)
	}
	if applied.UndoFreezing == nil {
		t.Fatal("no undo for the freezing fault")
	}
	if err := applied.UndoFreezing(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := env.events[len(env.events)-1]; got != fmt.Sprintf("lift [%s]", paused) {
		t.Errorf("UndoFreezing lifted %q", got)
	}
	env.events = nil
	if err := applied.Undo(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(env.events, fmt.Sprintf("lift [%s]", down)) {
		t.Errorf("Undo did not lift the held fault: %q", env.events)
	}
}

func TestPlanApplyWithoutFreezingHasNoFreezingUndo(t *testing.T) {
	applied, err := Plan{Held: []chaos.Fault{chaos.Down(chaos.Redis)}}.Apply(t.Context(), &fakeInjector{})
	if err != nil {
		t.Fatal(err)
	}
	if applied.UndoFreezing != nil {
		t.Error("UndoFreezing set for a plan without freezing faults")
	}
}

func TestPlanApplyLiftsWhatItAppliedWhenAFaultFails(t *testing.T) {
	down := chaos.Down(chaos.MaxAPI)
	paused := chaos.ContainerPaused(chaos.Postgres)
	env := &fakeInjector{fail: map[string]bool{paused.String(): true}}
	_, err := Plan{Held: []chaos.Fault{down, paused}, Freezing: []chaos.Fault{paused}}.Apply(t.Context(), env)
	if err == nil {
		t.Fatal("a refused fault was not reported")
	}
	if !slices.Contains(env.events, fmt.Sprintf("lift [%s]", down)) {
		t.Errorf("the applied fault was left in place: %q", env.events)
	}
}
