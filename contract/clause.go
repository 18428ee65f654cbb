package contract

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/faultline/faultline/docs"
)

// Clause is one promise of docs/contract.md, named by the id that ends it (`§id`).
type Clause struct {
	ID string `json:"id"`
	// Section is the heading the clause stands under.
	Section string `json:"section"`
	// Text is the promise, from the end of the previous clause (or the start of its
	// paragraph, list item or table row) to its id, in one line.
	Text string `json:"text"`
	// Reference marks a promise of the reference service only.
	Reference bool `json:"reference,omitempty"`
}

var (
	clauseMark = regexp.MustCompile("`§([a-z0-9.-]+)`")
	clauseID   = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$`)
	// A parenthesis opened by **(reference)** narrows a contract promise with a reference
	// detail; it does not make the promise the reference service's.
	referenceAside = regexp.MustCompile(`\(\*\*\(reference\)\*\*[^)]*\)`)
)

const referenceTag = "**(reference)**"

// Clauses returns the clauses of the contract the repository ships, in document order.
func Clauses() []Clause {
	cs, err := ParseClauses(docs.Contract)
	if err != nil {
		panic("contract: docs/contract.md: " + err.Error()) // a unit test parses it
	}
	return cs
}

// ParseClauses reads the clauses of a contract document: every `§id` mark ends one. Ids
// must be unique and well formed.
func ParseClauses(md string) ([]Clause, error) {
	var out []Clause
	seen := map[string]bool{}
	section := ""
	for _, block := range blocks(md) {
		if h, ok := strings.CutPrefix(block, "## "); ok {
			section = strings.TrimSpace(h)
			continue
		}
		para := oneLine(block)
		start := 0
		for _, m := range clauseMark.FindAllStringSubmatchIndex(para, -1) {
			id := para[m[2]:m[3]]
			if !clauseID.MatchString(id) {
				return nil, fmt.Errorf("clause id %q: want dot-separated lower-case words", id)
			}
			if seen[id] {
				return nil, fmt.Errorf("clause id %q is used twice", id)
			}
			seen[id] = true
			text := strings.TrimSpace(strings.Trim(strings.TrimSpace(para[start:m[0]]), "|"))
			// A paragraph or item opened by **(reference)**, or by a bold title that begins
			// with (reference), is the reference service's.
			ref := strings.HasPrefix(strings.TrimLeft(para, "-| "), "**(reference)") ||
				strings.Contains(referenceAside.ReplaceAllString(text, ""), referenceTag)
			out = append(out, Clause{ID: id, Section: section, Text: text, Reference: ref})
			start = m[1]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no clause ids (`§id`) in the document")
	}
	return out, nil
}

// blocks splits a Markdown document into headings, paragraphs, list items and table rows.
func blocks(md string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for line := range strings.SplitSeq(md, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "```"):
			flush()
		case strings.HasPrefix(t, "#"), strings.HasPrefix(t, "|"):
			flush()
			out = append(out, t)
		case strings.HasPrefix(t, "- "):
			flush()
			cur = append(cur, t)
		default:
			cur = append(cur, t)
		}
	}
	flush()
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
