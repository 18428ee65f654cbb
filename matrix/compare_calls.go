package matrix

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (c *comparison) maxCalls() {
	for _, m := range c.row.Expected.MaxCalls {
		n := 0
		for _, call := range c.obs.MaxCalls {
			if c.obs.Phases.contains(call.At, m.Measured) && maxCallMatches(m, call) {
				n++
			}
		}
		if !m.Count.Contains(float64(n)) {
			item := "GET /me"
			if m.Endpoint == MaxChat {
				item = "GET /chats/{chatId}"
				if m.MaxChatID != 0 {
					item = fmt.Sprintf("GET /chats/%d", m.MaxChatID)
				}
			}
			if m.Status != 0 {
				item += fmt.Sprintf(" answered %d", m.Status)
			}
			if m.Measured {
				item += " (measured)"
			}
			c.addOver(FieldMaxCalls, item, m.Count, float64(n), strconv.Itoa(n), m.Reference)
		}
	}
	c.maxPause()
	if len(c.row.Expected.MaxRate) == 0 {
		return
	}
	var times []time.Time
	for _, call := range c.obs.MaxCalls {
		if c.obs.Phases.contains(call.At, false) && maxCallMatches(MaxCallExpectation{Endpoint: MaxChat}, call) {
			times = append(times, call.At)
		}
	}
	peak := PeakPerSecond(times)
	for _, r := range c.row.Expected.MaxRate {
		if !r.PerSecond.Contains(float64(peak)) {
			c.addOver(FieldMaxCalls, "GET /chats/{chatId} in any 1s", r.PerSecond, float64(peak), strconv.Itoa(peak), r.Reference)
		}
	}
}

// maxPause checks that no GET /chats/{chatId} reached MAX inside the pause that its first
// 429 began, calls in flight excepted.
func (c *comparison) maxPause() {
	p := c.row.Expected.MaxPause
	if p == nil {
		return
	}
	chat := MaxCallExpectation{Endpoint: MaxChat}
	var first time.Time
	for _, call := range c.obs.MaxCalls {
		if call.Status == http.StatusTooManyRequests && maxCallMatches(chat, call) && (first.IsZero() || call.At.Before(first)) {
			first = call.At
		}
	}
	item := fmt.Sprintf("GET /chats/{chatId} in the Retry-After pause (%s after the first 429, calls within %s of it in flight)",
		formatDuration(p.RetryAfter), formatDuration(p.InFlight))
	if first.IsZero() {
		c.add(FieldMaxCalls, item, "a 429, then none", "no call answered 429", p.Reference)
		return
	}
	from, until := first.Add(p.InFlight), first.Add(p.RetryAfter)
	n := 0
	for _, call := range c.obs.MaxCalls {
		if maxCallMatches(chat, call) && call.At.After(from) && call.At.Before(until) {
			n++
		}
	}
	if n > 0 {
		c.addOver(FieldMaxCalls, item, None(), float64(n), strconv.Itoa(n), p.Reference)
	}
}

// PeakPerSecond is the most of the times that fall in any window of one second, [t, t+1s).
func PeakPerSecond(times []time.Time) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	peak, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	return peak
}

func maxCallMatches(m MaxCallExpectation, call MaxCall) bool {
	if m.Status != 0 && call.Status != m.Status {
		return false
	}
	path, _, _ := strings.Cut(call.Path, "?")
	switch m.Endpoint {
	case MaxMe:
		return path == "/me"
	case MaxChat:
		rest, ok := strings.CutPrefix(path, "/chats/")
		if !ok || strings.Contains(rest, "/") {
			return false
		}
		return m.MaxChatID == 0 || rest == strconv.FormatInt(m.MaxChatID, 10)
	}
	return false
}
