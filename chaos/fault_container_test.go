package chaos_test

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Process faults", Label("env", "fault", "process"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("stops the Redis container and brings it back cold", func() {
		ctx := bg()
		seedCache(env, chaos.CacheEntry{ChatID: 1, Count: 3, UpdatedAt: time.Now()})
		undo := apply(env, chaos.ContainerStopped(chaos.Redis))
		_, err := pingThroughProxy(env, time.Second)
		Expect(err).To(HaveOccurred())
		Expect(env.Redis().Ping(ctx).Err()).To(HaveOccurred(), "the direct client sees it too")
		Eventually(func() string { return env.Client().Health(ctx).Health.Dependencies["redis"] }).
			WithTimeout(15 * time.Second).Should(Equal("unhealthy"))

		undo()
		_, err = pingThroughProxy(env, time.Second)
		Expect(err).NotTo(HaveOccurred())
		_, found := cacheEntry(env, 1)
		Expect(found).To(BeFalse(), "a restarted Redis is empty")
		Eventually(func() string { return env.Client().Health(ctx).Health.Dependencies["redis"] }).
			WithTimeout(15 * time.Second).Should(Equal("healthy"))
	})

	It("pauses Postgres: connections hang until it is unpaused", func() {
		undo := apply(env, chaos.ContainerPaused(chaos.Postgres))
		ctx, cancel := context.WithTimeout(bg(), 500*time.Millisecond)
		defer cancel()
		Expect(env.DB().Ping(ctx)).To(MatchError(context.DeadlineExceeded))
		Eventually(func() int { return env.Client().Readyz(bg()).Status }).WithTimeout(15 * time.Second).
			Should(Equal(http.StatusServiceUnavailable))
		undo()
		Expect(env.DB().Ping(bg())).To(Succeed())
		Eventually(func() int { return env.Client().Readyz(bg()).Status }).WithTimeout(15 * time.Second).
			Should(Equal(http.StatusOK))
	})

	It("restarts the SUT: a new process, ready again", func() {
		pid := env.SUTPid()
		apply(env, chaos.SUTRestarted())
		Expect(env.SUTPid()).NotTo(Equal(pid))
		Expect(env.Client().Readyz(bg()).Status).To(Equal(http.StatusOK))
	})

	It("brings a stopped or paused container back on Reset", func() {
		apply(env, chaos.ContainerStopped(chaos.Redis), chaos.ContainerPaused(chaos.Postgres))
		Expect(env.Reset(bg())).To(Succeed())
		AddReportEntry("reset after stopping redis and pausing postgres", env.Timings().Reset.String())
		Expect(env.DB().Ping(bg())).To(Succeed())
		_, err := pingThroughProxy(env, time.Second)
		Expect(err).NotTo(HaveOccurred())
	})
})
