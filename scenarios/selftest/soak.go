package selftest

// SoakVariant is a broken service that the soak (make soak, chaos/cmd/soak) must fail in its
// default duration: bugs that only show over time, under load and changing faults, which a
// row of a few seconds cannot see.
type SoakVariant struct {
	// Name is the mutant's name; its patch is mutants/<Name>.patch.
	Name string
	// Breaks says what is wrong with the variant, in one sentence.
	Breaks string
	// Why says why the soak's invariants in Violates catch it.
	Why string
	// Violates are the soak's invariants (the keys of soak.json's "invariants") the run
	// must break. Others may break too: the soak's verdict is one, a failed run.
	Violates []string
}

// Patch is the variant's mutant patch under mutants/.
func (v SoakVariant) Patch() string { return v.Name + ".patch" }

// SoakVariants are the variants the soak must fail.
func SoakVariants() []SoakVariant {
	return []SoakVariant{
		{
			Name:   "list-leaks-goroutine",
			Breaks: "every list leaves a goroutine behind: a watcher whose channel is never closed",
			Why: "Two minutes of lists leave thousands of goroutines, where the soak allows the larger of 50 and a " +
				"quarter more at the end than before the first fault.",
			Violates: []string{"resources"},
		},
		{
			Name: "database-overwrites-newer",
			Breaks: "a refresh writes MAX's count to the database unconditionally, over an observation newer than " +
				"its own",
			Why: "The soak refreshes a hot chat on every replica at once several times a second, and jitter on " +
				"PostgreSQL or MAX reorders their writes: the write log's trigger on chats records every write, " +
				"and one that moves an observation back in time is a violation.",
			Violates: []string{"store"},
		},
		{
			Name: "database-labelled-cache",
			Breaks: "a chat whose Redis entry is missing or older than the database's row is served from the " +
				"database but labelled participants_source cache whenever Redis could be read",
			Why: "Every count served with source cache is checked against Redis's own record of its writes (its " +
				"MONITOR feed): the database's count, labelled cache, is one Redis did not hold while the request " +
				"was answered, as soon as a chat's entry is missing or behind its row.",
			Violates: []string{"source"},
		},
	}
}
