package matrix

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The label keys of the vocabulary. Ginkgo label filters select rows with them, e.g.
// `--label-filter='row:redis-down.max-up.cache-fresh'` or `'dep:redis && fault:blackhole'`.
const (
	LabelRow   = "row"   // row:<id>, exactly one per spec
	LabelGroup = "group" // group:<group>
	LabelDep   = "dep"   // dep:<dependency>, one per dependency with an active fault
	LabelFault = "fault" // fault:<kind>, one per distinct active fault kind; fault:none when nothing is broken
	LabelScope = "scope" // scope:reference on rows only the reference service promises
)

// faultNone is the fault label of rows where every dependency is up.
const faultNone = "none"

// idPattern is the shape of row ids: lower-case words joined by '-' and '.'. It is stricter than
// Ginkgo's label rules (no &|!,()/ and no leading ':'), so `row:<id>` is always a valid label
// and a valid label filter term.
var idPattern = regexp.MustCompile(`^[a-z0-9]+(?:[.-][a-z0-9]+)*$`)

// ValidID reports whether id has the shape of a row id.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Labels returns the Ginkgo labels of a row, in vocabulary order: row, group, deps, faults,
// scope. Scenarios must label each entry with exactly these.
func Labels(r Row) []string {
	out := []string{LabelRow + ":" + r.ID, LabelGroup + ":" + string(r.Group)}
	active := r.Given.Active()
	for _, d := range active {
		out = append(out, LabelDep+":"+string(d))
	}
	var kinds []string
	for _, d := range active {
		k := string(r.Given.Fault(d).Kind)
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		kinds = []string{faultNone}
	}
	for _, k := range kinds {
		out = append(out, LabelFault+":"+k)
	}
	if r.Reference {
		out = append(out, LabelScope+":reference")
	}
	return out
}

// Vocabulary returns every label a row may carry except the row:<id> labels: the frozen set
// scenarios, Makefile targets and CI filters may rely on.
func Vocabulary() []string {
	var out []string
	for _, g := range Groups() {
		out = append(out, LabelGroup+":"+string(g))
	}
	for _, d := range Dependencies() {
		out = append(out, LabelDep+":"+string(d))
	}
	out = append(out, LabelFault+":"+faultNone)
	for _, k := range FaultKinds() {
		if k != FaultUp {
			out = append(out, LabelFault+":"+string(k))
		}
	}
	return append(out, LabelScope+":reference")
}

// The errors of RowID: a spec that is not a row, and one that claims several rows.
var (
	ErrNoRowLabel       = errors.New("no " + LabelRow + ": label")
	ErrSeveralRowLabels = errors.New("several " + LabelRow + ": labels")
)

// RowID returns the row id of a spec's labels: the value of its one row:<id> label. It fails
// with ErrNoRowLabel when there is none, ErrSeveralRowLabels when there are more.
func RowID(labels []string) (string, error) {
	var ids []string
	for _, l := range labels {
		if id, ok := strings.CutPrefix(l, LabelRow+":"); ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	switch len(ids) {
	case 0:
		return "", ErrNoRowLabel
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%w: %s", ErrSeveralRowLabels, strings.Join(ids, ", "))
}
