package matrix

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline/faultline/contract"
)

// servedChats returns the ids of the chats a successful response of the request carries, and
// whether the request serves chats at all.
func servedChats(r Row) ([]int64, bool) {
	p := r.Request.Path
	if path, query, _ := strings.Cut(p, "?"); path == contract.PathList {
		ids := make([]int64, 0, len(r.Given.Seed.Chats))
		for _, c := range r.Given.Seed.Chats {
			ids = append(ids, c.ID)
		}
		slices.Sort(ids)
		q, _ := url.ParseQuery(query)
		if off, err := strconv.Atoi(q.Get("offset")); err == nil && off >= 0 {
			ids = ids[min(off, len(ids)):]
		}
		if limit, err := strconv.Atoi(q.Get("limit")); err == nil && limit >= 0 {
			ids = ids[:min(limit, len(ids))]
		}
		return ids, true
	}
	var id int64
	if _, err := fmt.Sscanf(p, "/chats/%d", &id); err == nil {
		return []int64{id}, true
	}
	return nil, false
}

// validateChats checks chat expectations against the seed and the given state. During the
// fault (faulted) a cache source needs a reachable Redis and a MAX value a working MAX.
func validateChats(what string, r Row, chats []ChatExpectation, ids []int64, faulted bool) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(what+": "+format, args...)) }
	got := make([]int64, 0, len(chats))
	for _, c := range chats {
		got = append(got, c.ID)
		sc, ok := r.Given.Seed.Chat(c.ID)
		if !ok {
			fail("chat %d is not seeded", c.ID)
			continue
		}
		switch c.Source {
		case SourceCache:
			if c.Value != OriginCache && c.Value != OriginCacheNow && c.Value != OriginMax {
				fail("chat %d: source cache serves the cache's or a refreshed value, not %q", c.ID, c.Value)
			}
			if faulted && redisUnreachableKind(r.Given.Redis.Kind) {
				fail("chat %d: source cache while Redis is %s", c.ID, r.Given.Redis.Kind)
			}
		case SourceAPI:
			if c.Value != OriginMax || r.Request.Method != http.MethodPost {
				fail("chat %d: source api only for a refresh, with the MAX value", c.ID)
			}
		case SourceDatabase:
			if c.Value == OriginCache || c.Value == OriginCacheNow {
				fail("chat %d: source database cannot serve the cache's value", c.ID)
			}
		default:
			fail("chat %d: unknown source %q", c.ID, c.Source)
		}
		if c.Value == OriginCache && (sc.Cache == nil || sc.Cache.Raw != "") {
			fail("chat %d: value from a cache entry that was never seeded, or does not decode", c.ID)
		}
		if c.Value == OriginCacheNow && (sc.Cache == nil || sc.Cache.Raw != "" || -sc.Cache.Age <= clockSkewMax) {
			fail("chat %d: a value served as observed now needs a cache entry seeded beyond CLOCK_SKEW_MAX (%s) in the future",
				c.ID, formatDuration(clockSkewMax))
		}
		if (c.Value == OriginMax || c.Value == OriginDatabaseOrMax) && !sc.Linked() {
			fail("chat %d: a MAX value for a chat not linked to MAX", c.ID)
		}
		if faulted && c.Value == OriginMax && r.Given.MaxAPI.Active() {
			fail("chat %d: a MAX value while MAX is %s", c.ID, r.Given.MaxAPI)
		}
	}
	if faulted && !slices.Equal(got, ids) {
		fail("chats %v, want exactly %v in order", got, ids)
	}
	if !faulted {
		for _, id := range got {
			if !slices.Contains(ids, id) {
				fail("chat %d is not served by the request", id)
			}
		}
	}
	return errs
}
