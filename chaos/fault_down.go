package chaos

import "context"

// Down disables dep's proxy: its listener closes and open connections are cut, so the SUT
// gets "connection refused" until the undo enables it again on the same address.
func Down(dep Dependency) Fault { return down{dep: dep} }

type down struct{ dep Dependency }

func (d down) String() string { return "down(" + string(d.dep) + ")" }

func (d down) inject(_ context.Context, e *Env) (UndoFunc, error) {
	if err := e.proxies.disable(d.dep); err != nil {
		return nil, err
	}
	return func(context.Context) error { return e.proxies.enable(d.dep) }, nil
}
