package suiterun

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"strings"
)

// EnvVariants names the file of Variants the suite runs instead of the one service of
// CHAOS_SUT_CMD: every row a variant lists becomes a spec of its own, labelled
// LabelVariant:<name>, and each variant's matrix report is written to its Out. The
// self-test runs all its variants in one suite this way, so the processes' environments
// serve every variant instead of starting again for each.
const EnvVariants = "MATRIX_VARIANTS"

// LabelVariant is the label key of a variant's specs.
const LabelVariant = "variant"

// Variant is one service variant of a suite run that tests several.
type Variant struct {
	Name string `json:"name"`
	// Command runs the variant's service.
	Command []string `json:"command"`
	// Env holds KEY=VALUE settings of every start of the variant's service, after
	// CHAOS_SUT_ENV's.
	Env []string `json:"env,omitempty"`
	// ContractOnly judges the variant's rows against the contract only.
	ContractOnly bool `json:"contract_only,omitempty"`
	// Rows are the ids of the rows the variant runs.
	Rows []string `json:"rows"`
	// Long are rows expected to take long on this variant, whatever they take on the
	// reference service: the rows it breaks wait out their time to settle.
	Long []string `json:"long,omitempty"`
	// Out is the directory of the variant's matrix report.
	Out string `json:"out"`
	// Meta is added to the run metadata of the variant's report.
	Meta map[string]string `json:"meta,omitempty"`
}

// Label is the label every spec of the variant carries.
func (v Variant) Label() string { return LabelVariant + ":" + v.Name }

// WriteVariants writes vs to path for EnvVariants.
func WriteVariants(path string, vs []Variant) error {
	b, err := json.MarshalIndent(vs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ReadVariants reads the file WriteVariants wrote, and checks that every variant has a
// name that can be a label, a command, rows and a report directory.
func ReadVariants(path string) ([]Variant, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the run's own file
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvVariants, err)
	}
	var vs []Variant
	if err := json.Unmarshal(b, &vs); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", EnvVariants, path, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%s: %s names no variant", EnvVariants, path)
	}
	seen := map[string]bool{}
	var errs []error
	for i, v := range vs {
		switch {
		case v.Name == "" || strings.ContainsAny(v.Name, "&|!,()/:\" \t\n"):
			errs = append(errs, fmt.Errorf("variant %d: name %q cannot be a label", i+1, v.Name))
		case seen[v.Name]:
			errs = append(errs, fmt.Errorf("variant %q: named twice", v.Name))
		case len(v.Command) == 0:
			errs = append(errs, fmt.Errorf("variant %q: no command", v.Name))
		case len(v.Rows) == 0:
			errs = append(errs, fmt.Errorf("variant %q: no rows", v.Name))
		case v.Out == "":
			errs = append(errs, fmt.Errorf("variant %q: no report directory", v.Name))
		}
		seen[v.Name] = true
		for _, kv := range v.Env {
			if !strings.Contains(kv, "=") {
				errs = append(errs, fmt.Errorf("variant %q: setting %q is not KEY=VALUE", v.Name, kv))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", EnvVariants, path, err)
	}
	return vs, nil
}

// Spec is one row of one variant.
type Spec struct{ Variant, Row string }

// longShare is the share of a run of several variants over which its long specs start.
const longShare = 0.85

// Priorities orders the specs of a run of several variants, as Ginkgo's SpecPriority
// (higher first, each spec its own): the long ones (long(spec)) start evenly spread over
// the first 85% of the run, the others in an order that looks random but is the same in
// every run (by a hash of their names). Each process then runs a mix of slow rows and fast
// ones all along, and no long row starts at the very end, leaving the other processes idle
// until it ends, as a shuffle does now and then. The rows' own priorities would run every
// variant's slow rows first, side by side, and spreading the long rows over less of the
// run crowds them too: the replicas rows that refresh 300 chats each use much of the CPU
// while they last, and at 60% four of them ran at once on average, which a two-core host
// did not keep up with (the service then drops refreshes it gets to too late).
func Priorities(specs []Spec, long func(Spec) bool) map[Spec]int {
	var longs, rest []Spec
	for _, s := range specs {
		if long(s) {
			longs = append(longs, s)
		} else {
			rest = append(rest, s)
		}
	}
	byHash := func(a, b Spec) int {
		return cmp.Or(cmp.Compare(specHash(a), specHash(b)), cmp.Compare(a.Variant, b.Variant), cmp.Compare(a.Row, b.Row))
	}
	slices.SortFunc(longs, byHash)
	slices.SortFunc(rest, byHash)
	n := len(specs)
	out := make(map[Spec]int, n)
	k, j := 0, 0
	for i := range n {
		// The k-th long spec starts at k/len(longs) of the first longShare of the run.
		if k < len(longs) && (j == len(rest) || float64(i) >= float64(k)*longShare*float64(n)/float64(len(longs))) {
			out[longs[k]] = n - i
			k++
			continue
		}
		out[rest[j]] = n - i
		j++
	}
	return out
}

func specHash(s Spec) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s.Variant + "\x00" + s.Row))
	return h.Sum64()
}
