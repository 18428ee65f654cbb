package matrix

import (
	"fmt"
	"strconv"
	"time"
)

func (c *comparison) stores() {
	c.redisCalls("Redis reads during the measured requests", c.row.Expected.CacheReads, c.obs.CacheReads)
	c.redisCalls("Redis PINGs during the measured requests", c.row.Expected.CachePings, c.obs.CachePings)
	if len(c.row.Expected.Stores) == 0 {
		return
	}
	// A row seeding hundreds of chats expects as many stored values, and is compared at
	// every poll: the observed values are looked up by chat and store.
	type key struct {
		chat  int64
		store Store
	}
	observed := make(map[key]int, len(c.obs.Stores))
	for i, v := range c.obs.Stores {
		if _, dup := observed[key{v.ChatID, v.Store}]; !dup {
			observed[key{v.ChatID, v.Store}] = i
		}
	}
	for _, s := range c.row.Expected.Stores {
		item := func() string { return fmt.Sprintf("chat %d %s", s.ChatID, s.Store) }
		i, ok := observed[key{s.ChatID, s.Store}]
		if !ok {
			c.add(FieldStores, item(), string(s.Want), "not read", s.Reference)
			continue
		}
		v := c.obs.Stores[i]
		if v.Error != "" {
			c.add(FieldStores, item(), string(s.Want), "unreadable: "+v.Error, s.Reference)
			continue
		}
		sc, _ := c.seedChat(s.ChatID)
		unchanged, seededAs := c.storeUnchanged(sc, v)
		refreshed := v.Present && v.Count == sc.MaxCount && sc.Linked() && v.UpdatedAt != nil &&
			!v.UpdatedAt.Before(c.obs.SeededAt.Add(-timeTolerance))
		ok = false
		var expected func() string
		switch s.Want {
		case StoreUnchanged:
			ok, expected = unchanged, func() string { return "unchanged: " + seededAs() }
		case StoreRefreshed:
			ok, expected = refreshed, func() string {
				return fmt.Sprintf("refreshed: count %d, updated_at during the row", sc.MaxCount)
			}
		case StoreAbsent:
			ok = !v.Present
		case StoreUnchangedOrRefreshed:
			ok = unchanged || refreshed
			expected = func() string { return fmt.Sprintf("unchanged (%s) or refreshed (count %d)", seededAs(), sc.MaxCount) }
		}
		if !ok {
			want := string(s.Want)
			if expected != nil {
				want = expected()
			}
			c.add(FieldStores, item(), want, c.describeStored(v), s.Reference)
			continue
		}
		if s.TTL != nil && refreshed && !s.TTL.Contains(v.TTL) {
			c.add(FieldStores, item()+" ttl", s.TTL.String(), describeTTL(v.TTL), s.Reference)
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

// storeUnchanged reports whether v is the value seeded for it, and describes that value
// when asked (only a mismatch needs the words).
func (c *comparison) storeUnchanged(sc SeedChat, v StoredValue) (bool, func() string) {
	var st *Stored
	switch v.Store {
	case StoreRedis:
		st = sc.Cache
	case StoreDatabase:
		db := sc.DB
		st = &db
	}
	if st == nil {
		return !v.Present, func() string { return "absent" }
	}
	at, known := st.UpdatedAt(c.obs.SeededAt)
	return v.Present && v.Count == st.Count && c.sameTime(v.UpdatedAt, at, known),
		func() string { return fmt.Sprintf("count %d, updated_at %s", st.Count, c.describeTime(at, known)) }
}

func (c *comparison) describeStored(v StoredValue) string {
	if !v.Present {
		return "absent"
	}
	return c.describeCount(v.Count, v.UpdatedAt)
}
