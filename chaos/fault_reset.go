package chaos

// Reset makes dep's proxy answer the SUT's first bytes on every connection with a TCP RST
// ("connection reset by peer"), as a crashing or overloaded dependency does.
func Reset(dep Dependency) Toxic {
	return newToxic(dep, "reset", resetAttrs{Timeout: 0}, "", "upstream")
}

type resetAttrs struct {
	Timeout int64 `json:"timeout"`
}
