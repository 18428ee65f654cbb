// Package docs carries the documents the code reads: the service contract, whose clause ids
// the matrix's coverage table refers to.
package docs

import _ "embed"

// Contract is docs/contract.md.
//
//go:embed contract.md
var Contract string
