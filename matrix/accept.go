package matrix

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Acceptances are the regressions against the baseline that a release accepts: the reason
// for each, by row id.
type Acceptances map[string]string

// ErrNoReason is the error of an accepted change given without a reason.
var ErrNoReason = errors.New("an accepted change needs a reason")

// ReadAcceptances decodes an accepted-changes file: a YAML mapping (JSON is YAML too) from a
// row id to the reason its change is accepted, one line each:
//
//	redis-blackhole.max-up.cache-fresh: REDIS_TIMEOUT raised to 400ms for the replica move (#42)
//
// An entry without a reason, a key that is no row id and a row named twice are errors. An
// empty file accepts nothing.
func ReadAcceptances(r io.Reader) (Acceptances, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read accepted changes: %w", err)
	}
	var raw map[string]*string
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decode accepted changes (a mapping of row id to reason): %w", err)
	}
	acc := Acceptances{}
	for _, id := range slices.Sorted(maps.Keys(raw)) {
		if !ValidID(id) {
			return nil, fmt.Errorf("accepted change %q: not a row id", id)
		}
		reason := raw[id]
		if reason == nil || strings.TrimSpace(*reason) == "" {
			return nil, fmt.Errorf("accepted change %s: %w", id, ErrNoReason)
		}
		acc[id] = strings.TrimSpace(*reason)
	}
	return acc, nil
}

// Accept marks the regressions acc accepts with their reasons, and lists the entries that
// match no regression as unused: a stale file is visible, and accepts nothing by accident
// later.
func (c *Comparison) Accept(acc Acceptances) {
	used := map[string]bool{}
	for i, r := range c.Rows {
		reason, ok := acc[r.ID]
		if ok && len(r.Regressions) > 0 {
			c.Rows[i].Accepted = reason
			used[r.ID] = true
		}
	}
	c.Unused = nil
	for _, id := range slices.Sorted(maps.Keys(acc)) {
		if !used[id] {
			c.Unused = append(c.Unused, id)
		}
	}
}
