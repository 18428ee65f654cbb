package chaos

import "github.com/prometheus/procfs"

// Proc is one process of a tree read from /proc.
type Proc struct {
	PID  int
	Comm string
	// Start is the process's start time in clock ticks since boot: it tells a process apart
	// from a later one that reused its pid.
	Start uint64
}

// ProcessTree returns root and every process below it, however deep, root first. A
// process group is not enough to find them: PostgreSQL's backends each call setsid().
func ProcessTree(root int) []Proc {
	all, err := procfs.AllProcs()
	if err != nil {
		return nil
	}
	children := map[int][]Proc{}
	var top *Proc
	for _, p := range all {
		st, err := p.Stat()
		if err != nil {
			continue // gone since the listing
		}
		pr := Proc{PID: p.PID, Comm: st.Comm, Start: st.Starttime}
		if p.PID == root {
			top = &pr
		}
		children[st.PPID] = append(children[st.PPID], pr)
	}
	if top == nil {
		return nil
	}
	out := []Proc{*top}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].PID]...)
	}
	return out
}

// Alive reports whether p still runs: neither a zombie nor a later process with its pid.
func (p Proc) Alive() bool {
	pr, err := procfs.NewProc(p.PID)
	if err != nil {
		return false
	}
	st, err := pr.Stat()
	return err == nil && st.Starttime == p.Start && st.State != "Z"
}
