package matrix

import "fmt"

// Mode is how a run's observations are judged, recorded once on the report.
type Mode string

// The modes.
const (
	// ModeReference judges every expectation: the reference service's gate.
	ModeReference Mode = "reference"
	// ModeContract judges another implementation of the contract: expectations only the
	// reference service promises (Reference) are skipped, and so are the rows marked
	// Reference (MATRIX_CONTRACT_ONLY=1).
	ModeContract Mode = "contract"
)

// EnvContractOnly is the variable that selects ModeContract ("1") for a run.
const EnvContractOnly = "MATRIX_CONTRACT_ONLY"

// ModeOf returns the mode a value of MATRIX_CONTRACT_ONLY selects.
func ModeOf(contractOnly bool) Mode {
	if contractOnly {
		return ModeContract
	}
	return ModeReference
}

// Contract reports whether the mode judges against the contract only. The zero Mode, as in a
// report written before modes were recorded, is the reference mode.
func (m Mode) Contract() bool { return m == ModeContract }

// Validate refuses a mode that is neither of the two.
func (m Mode) Validate() error {
	switch m {
	case ModeReference, ModeContract, "":
		return nil
	}
	return fmt.Errorf("unknown judgement mode %q (want %q or %q)", m, ModeReference, ModeContract)
}
