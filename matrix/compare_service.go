package matrix

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/faultline/faultline/contract"
)

func (c *comparison) resources() {
	for _, r := range c.row.Expected.Resources {
		i := slices.IndexFunc(c.obs.Resources, func(d ResourceDelta) bool { return d.Name == r.Name })
		want := "grows by at most " + formatFloat(r.MaxIncrease)
		switch {
		case i < 0:
			c.add(FieldResources, r.Name, want, "not observed", r.Reference)
		case c.obs.Resources[i].End-c.obs.Resources[i].Start > r.MaxIncrease:
			d := c.obs.Resources[i]
			c.add(FieldResources, r.Name, want, fmt.Sprintf("%s -> %s (+%s)", formatFloat(d.Start), formatFloat(d.End),
				formatFloat(d.End-d.Start)), r.Reference)
		}
	}
}

func (c *comparison) health() {
	h := c.row.Expected.Health
	if h == nil {
		return
	}
	o := c.obs.Health
	if o == nil {
		c.add(FieldHealth, contract.PathHealthDetailed, "observed", "not observed", h.Reference)
		return
	}
	if o.Status != h.Status {
		c.add(FieldHealth, "status", strconv.Itoa(h.Status), strconv.Itoa(o.Status), h.Reference)
	}
	if o.Service != h.Service {
		c.add(FieldHealth, "service", h.Service, orNone(o.Service), h.Reference)
	}
	for _, d := range slices.Sorted(maps.Keys(h.Dependencies)) {
		if got := o.Dependencies[d]; got != h.Dependencies[d] {
			c.add(FieldHealth, "dependencies."+string(d), h.Dependencies[d], orNone(got), h.Reference)
		}
	}
}

func (c *comparison) probes() {
	for _, p := range c.row.Expected.Probes {
		item := p.Method + " " + p.Path
		i := slices.IndexFunc(c.obs.Probes, func(r ProbeResult) bool { return r.Method == p.Method && r.Path == p.Path })
		switch {
		case i < 0:
			c.add(FieldProbes, item, strconv.Itoa(p.Status), "not probed", false)
		case c.obs.Probes[i].Status != p.Status:
			c.add(FieldProbes, item, strconv.Itoa(p.Status), strconv.Itoa(c.obs.Probes[i].Status), false)
		}
	}
}

func (c *comparison) recovery() {
	rc := c.row.Expected.Recovery
	if rc == nil {
		return
	}
	o := c.obs.Recovery
	if o == nil {
		c.add(FieldRecovery, "recovery", "within "+rc.Within.String(), "not observed", false)
		return
	}
	if !o.Recovered || o.After > rc.Within {
		observed := "after " + o.After.String()
		if !o.Recovered {
			observed = "not recovered after " + o.After.String()
		}
		c.add(FieldRecovery, "time to recover", "within "+rc.Within.String(), observed, false)
	}
	if o.Status != rc.Status {
		c.add(FieldRecovery, "recovered status", strconv.Itoa(rc.Status), strconv.Itoa(o.Status), false)
	}
	c.chatList(FieldRecovery, "recovered ", rc.Chats, o.Chats, false)
	c.gauges(FieldRecovery, "recovered ", rc.Gauges, o.Gauges)
}

func (c *comparison) alerts() {
	if c.obs.Alerts == nil {
		return
	}
	fired := c.obs.Alerts.Fired
	sla := c.row.SLA
	for _, a := range sla.Alerts {
		if a != AlertNone && !slices.Contains(sla.NotReplayed, a) && !slices.Contains(fired, string(a)) {
			c.add(FieldAlerts, string(a), "fires", "silent", false)
		}
	}
	for _, a := range fired {
		if !slices.Contains(sla.Alerts, Alert(a)) {
			c.add(FieldAlerts, a, "silent", "fires", false)
		}
	}
}
