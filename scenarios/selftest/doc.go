// Package selftest proves that the behaviour matrix can fail. It runs the scenarios suite
// against deliberately broken variants of the reference service and passes only when the
// release gate rejects each variant on exactly the rows expected: a row that should catch
// the bug and passes means the harness is blind there; a row that fails without reason
// means it is noisy.
//
// A Variant is made either by run-wide environment overrides of the reference service
// (strict mode) or by a mutant: a small unified diff under mutants/, applied with
// `git apply` to a temporary copy of the module's service/ tree and built from there. The
// repository's own service/ is never changed, and the service carries no bug switches.
//
// The driver, cmd/selftest, builds the suite and the binaries, runs each variant's rows,
// builds the matrix report of each run, applies the gate and compares what it rejected with
// Variant.Reject. A contract-only variant is run and gated as another implementation of the
// contract would be; its full judgement must also differ from the reference service on
// exactly Variant.Differs. See README.md for the variants, the sampling of rows and how to add or
// regenerate a mutant.
//
// The package talks to the service only as the scenarios do, through its binary and its
// contract; it never imports the service's packages.
package selftest
