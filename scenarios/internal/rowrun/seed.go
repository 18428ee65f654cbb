package rowrun

import (
	"strconv"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

// ResetOptions are what a reset for the row's world needs: its seed (SeedOptions) and, for
// several replicas, their count in REPLICAS.
func ResetOptions(g matrix.Given, seededAt time.Time, cacheTTL time.Duration) []chaos.ResetOption {
	opts := SeedOptions(g.Seed, seededAt, cacheTTL)
	if g.Replicas > 1 {
		opts = append(opts, chaos.WithSUTEnv("REPLICAS="+strconv.Itoa(g.Replicas)))
	}
	return opts
}

// SeedOptions turns a row's seed into the data a reset writes: the chats table, the Redis
// entries and the fake MAX chats, with ages relative to seededAt. A cache entry lives for
// what remains of cacheTTL after its age, as if the service had written it.
func SeedOptions(s matrix.Seed, seededAt time.Time, cacheTTL time.Duration) []chaos.ResetOption {
	d := seedData(s, seededAt, cacheTTL)
	return []chaos.ResetOption{chaos.WithChats(d.rows...), chaos.WithCache(d.entries...), chaos.WithMaxChats(d.chats...),
		chaos.WithBackoffs(d.backoffs...), chaos.WithSharedQuota(d.quota), chaos.WithMaxFaults(d.faults...)}
}

// seeded is what a reset writes for a seed.
type seeded struct {
	rows     []chaos.ChatRow
	entries  []chaos.CacheEntry
	chats    []maxapi.Chat
	backoffs []chaos.Backoff
	quota    chaos.SharedQuota
	faults   []maxapi.Fault
}

func seedData(s matrix.Seed, seededAt time.Time, cacheTTL time.Duration) seeded {
	var rows []chaos.ChatRow
	var entries []chaos.CacheEntry
	var chats []maxapi.Chat
	var backoffs []chaos.Backoff
	var faults []maxapi.Fault
	for _, c := range s.Chats {
		row := chaos.ChatRow{ID: c.ID, Name: c.Name, MaxChatID: c.MaxChatID, Count: c.DB.Count}
		if at, ok := c.DB.UpdatedAt(seededAt); ok {
			row.UpdatedAt = at
		}
		rows = append(rows, row)
		if c.Cache != nil {
			at, _ := c.Cache.UpdatedAt(seededAt)
			entries = append(entries, chaos.CacheEntry{ChatID: c.ID, Count: c.Cache.Count, UpdatedAt: at,
				TTL: max(cacheTTL-c.Cache.Age, time.Minute), Raw: c.Cache.Raw})
		}
		if c.MaxStatus != 0 && c.MaxStatus != 404 {
			faults = append(faults, maxapi.Status(c.MaxStatus).OnEndpoint(maxapi.EndpointChat).OnChat(c.MaxChatID))
		}
		if c.Linked() && c.MaxStatus != 404 {
			chats = append(chats, maxapi.Chat{ID: c.MaxChatID, Title: c.Name, ParticipantsCount: c.MaxCount})
		}
		if c.BackedOff > 0 {
			backoffs = append(backoffs, chaos.Backoff{ChatID: c.ID, Until: seededAt.Add(c.BackedOff)})
		}
	}
	var quota chaos.SharedQuota
	if s.QuotaSpent > 0 {
		quota.QuotaSpentUntil = seededAt.Add(s.QuotaSpent)
	}
	if s.MaxPaused > 0 {
		quota.PausedUntil = seededAt.Add(s.MaxPaused)
	}
	return seeded{rows: rows, entries: entries, chats: chats, backoffs: backoffs, quota: quota, faults: faults}
}
