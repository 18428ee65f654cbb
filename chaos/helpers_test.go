package chaos_test

import (
	"context"
	"net"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/chaos"
)

// proxiedRedis is a fresh go-redis client that goes through the redis proxy, as the SUT
// does, with short deadlines and no retries so a fault shows at once. Each call gets its
// own client, so a connection broken by an earlier fault cannot blur the next check.
func proxiedRedis(env *chaos.Env, timeout time.Duration) *redis.Client {
	GinkgoHelper()
	c := redis.NewClient(&redis.Options{
		Addr: env.ProxyAddr(chaos.Redis), DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout,
		MaxRetries: -1, PoolSize: 1,
	})
	DeferCleanup(c.Close)
	return c
}

// pingThroughProxy pings Redis through its proxy on a fresh connection.
func pingThroughProxy(env *chaos.Env, timeout time.Duration) (time.Duration, error) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := proxiedRedis(env, timeout)
	t0 := time.Now()
	err := c.Ping(ctx).Err()
	return time.Since(t0), err
}

func bg() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	DeferCleanup(cancel)
	return ctx
}

func portOf(addr string) uint16 {
	GinkgoHelper()
	_, p, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	n, err := strconv.ParseUint(p, 10, 16)
	Expect(err).NotTo(HaveOccurred())
	return uint16(n)
}

// The environment's API returns errors; these helpers fail the spec on one instead, for
// specs that set the stage in one line.

// apply injects the faults and returns their undo, both failing the spec on an error.
func apply(env *chaos.Env, faults ...chaos.Fault) func() {
	GinkgoHelper()
	undo, err := env.Inject(bg(), faults...)
	Expect(err).NotTo(HaveOccurred())
	return func() {
		GinkgoHelper()
		// Not bg(): the undo may itself run as a DeferCleanup.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		Expect(undo(ctx)).To(Succeed())
	}
}

func seedChats(env *chaos.Env, rows ...chaos.ChatRow) []chaos.ChatRow {
	GinkgoHelper()
	out, err := env.SeedChats(bg(), rows...)
	Expect(err).NotTo(HaveOccurred())
	return out
}

func seedCache(env *chaos.Env, entries ...chaos.CacheEntry) {
	GinkgoHelper()
	Expect(env.SeedCache(bg(), entries...)).To(Succeed())
}

func seedCacheRaw(env *chaos.Env, key, value string, ttl time.Duration) {
	GinkgoHelper()
	Expect(env.SeedCacheRaw(bg(), key, value, ttl)).To(Succeed())
}

func chatRow(env *chaos.Env, id int64) (chaos.ChatRow, bool) {
	GinkgoHelper()
	row, found, err := env.ReadChatRow(bg(), id)
	Expect(err).NotTo(HaveOccurred())
	return row, found
}

func chatRows(env *chaos.Env) []chaos.ChatRow {
	GinkgoHelper()
	rows, err := env.ChatRows(bg())
	Expect(err).NotTo(HaveOccurred())
	return rows
}

func cacheEntry(env *chaos.Env, id int64) (chaos.CacheEntry, bool) {
	GinkgoHelper()
	entry, found, err := env.ReadCacheEntry(bg(), id)
	Expect(err).NotTo(HaveOccurred())
	return entry, found
}

func metrics(env *chaos.Env) chaos.Snapshot {
	GinkgoHelper()
	snap, err := env.Metrics(bg())
	Expect(err).NotTo(HaveOccurred())
	return snap
}
