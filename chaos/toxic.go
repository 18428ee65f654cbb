package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Toxic is a fault that adds a Toxiproxy toxic to a dependency's proxy. The constructors
// choose the direction that produces the fault's effect; the methods return a modified copy.
type Toxic struct {
	dep      Dependency
	kind     string
	streams  []string
	toxicity float32
	attrs    any
	desc     string
}

func newToxic(dep Dependency, kind string, attrs any, desc string, streams ...string) Toxic {
	return Toxic{dep: dep, kind: kind, streams: streams, toxicity: 1, attrs: attrs, desc: desc}
}

// Upstream applies the toxic to data from the SUT to the dependency only.
func (t Toxic) Upstream() Toxic { t.streams = []string{"upstream"}; return t }

// Downstream applies the toxic to data from the dependency to the SUT only.
func (t Toxic) Downstream() Toxic { t.streams = []string{"downstream"}; return t }

// BothWays applies the toxic in both directions.
func (t Toxic) BothWays() Toxic { t.streams = []string{"upstream", "downstream"}; return t }

// WithToxicity makes the toxic affect only this fraction (0..1) of connections.
func (t Toxic) WithToxicity(p float64) Toxic { t.toxicity = float32(p); return t }

// Dependency is the dependency whose proxy the toxic goes on.
func (t Toxic) Dependency() Dependency { return t.dep }

// String names the toxic, for example "latency(redis, 500ms±0s)".
func (t Toxic) String() string {
	s := fmt.Sprintf("%s(%s", t.kind, t.dep)
	if t.desc != "" {
		s += ", " + t.desc
	}
	s += ")"
	if len(t.streams) == 1 {
		s += " " + t.streams[0]
	}
	if t.toxicity < 1 {
		s += fmt.Sprintf(" p=%.2f", t.toxicity)
	}
	return s
}

func (t Toxic) inject(ctx context.Context, e *Env) (UndoFunc, error) {
	var names []string
	undo := func(ctx context.Context) error {
		var errs []error
		for _, n := range names {
			errs = append(errs, e.proxies.removeToxic(ctx, t.dep, n))
		}
		return errors.Join(errs...)
	}
	for _, stream := range t.streams {
		name, err := e.proxies.addToxic(t.dep, toxicSpec{
			Type: toxicType(t.kind), Stream: stream, Toxicity: t.toxicity, Attributes: t.attrs,
		})
		if err != nil {
			return nil, errors.Join(err, undo(ctx))
		}
		names = append(names, name)
	}
	return undo, nil
}

// toxicType maps the fault's name to Toxiproxy's toxic type.
func toxicType(kind string) string {
	switch kind {
	case "blackhole", "timeout":
		return "timeout"
	case "reset":
		return "reset_peer"
	default:
		return strings.ReplaceAll(kind, "-", "_")
	}
}

func millis(d interface{ Milliseconds() int64 }) int64 { return d.Milliseconds() }
