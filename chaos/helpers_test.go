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
