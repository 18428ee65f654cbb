package matrix

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

func (c *comparison) stores() {
	c.redisCalls("Redis reads during the measured requests", c.row.Expected.CacheReads, c.obs.CacheReads)
	c.redisCalls("Redis PINGs during the measured requests", c.row.Expected.CachePings, c.obs.CachePings)
	for _, s := range c.row.Expected.Stores {
		item := fmt.Sprintf("chat %d %s", s.ChatID, s.Store)
		i := slices.IndexFunc(c.obs.Stores, func(v StoredValue) bool { return v.ChatID == s.ChatID && v.Store == s.Store })
		if i < 0 {
			c.add(FieldStores, item, string(s.Want), "not read", s.Reference)
			continue
		}
		v := c.obs.Stores[i]
		if v.Error != "" {
			c.add(FieldStores, item, string(s.Want), "unreadable: "+v.Error, s.Reference)
			continue
		}
		sc, _ := c.row.Given.Seed.Chat(s.ChatID)
		unchanged, seeded := c.storeUnchanged(sc, v)
		refreshed := v.Present && v.Count == sc.MaxCount && sc.Linked() && v.UpdatedAt != nil &&
			!v.UpdatedAt.Before(c.obs.SeededAt.Add(-timeTolerance))
		ok := false
		expected := string(s.Want)
		switch s.Want {
		case StoreUnchanged:
			ok, expected = unchanged, "unchanged: "+seeded
		case StoreRefreshed:
			ok, expected = refreshed, fmt.Sprintf("refreshed: count %d, updated_at during the row", sc.MaxCount)
		case StoreAbsent:
			ok = !v.Present
		case StoreUnchangedOrRefreshed:
			ok = unchanged || refreshed
			expected = fmt.Sprintf("unchanged (%s) or refreshed (count %d)", seeded, sc.MaxCount)
		}
		if !ok {
			c.add(FieldStores, item, expected, c.describeStored(v), s.Reference)
			continue
		}
		if s.TTL != nil && refreshed && !s.TTL.Contains(v.TTL) {
			c.add(FieldStores, item+" ttl", s.TTL.String(), describeTTL(v.TTL), s.Reference)
		}
	}
}

// redisCalls compares a count of Redis commands with its bound, when the row sets one.
func (c *comparison) redisCalls(item string, want *Count, got *int) {
	switch {
	case want == nil:
	case got == nil:
		c.add(FieldStores, item, want.String(), "not read", false)
	case !want.Contains(float64(*got)):
		c.add(FieldStores, item, want.String(), strconv.Itoa(*got), false)
	}
}

func describeTTL(d time.Duration) string {
	if d == 0 {
		return "never expires"
	}
	return formatDuration(d.Round(time.Second))
}

func (c *comparison) storeUnchanged(sc SeedChat, v StoredValue) (bool, string) {
	var st *Stored
	switch v.Store {
	case StoreRedis:
		st = sc.Cache
	case StoreDatabase:
		db := sc.DB
		st = &db
	}
	if st == nil {
		return !v.Present, "absent"
	}
	at, known := st.UpdatedAt(c.obs.SeededAt)
	return v.Present && v.Count == st.Count && c.sameTime(v.UpdatedAt, at, known),
		fmt.Sprintf("count %d, updated_at %s", st.Count, c.describeTime(at, known))
}

func (c *comparison) describeStored(v StoredValue) string {
	if !v.Present {
		return "absent"
	}
	return c.describeCount(v.Count, v.UpdatedAt)
}
