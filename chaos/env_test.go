package chaos_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
)

// sutEnviron reads the running SUT's environment from /proc, to see what it was started with.
func sutEnviron(env *chaos.Env) []string {
	GinkgoHelper()
	pid := env.SUTPid()
	Expect(pid).NotTo(BeZero())
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			out = append(out, string(kv))
		}
	}
	return out
}

var _ = Describe("Environment", Label("env"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("starts well under 30 s, with the SUT ready behind the proxies", func() {
		t := env.Timings()
		AddReportEntry("start-up", fmt.Sprintf("start=%s containers=%s build=%s migrate=%s sut_start=%s",
			t.Start, t.Containers, t.Build, t.Migrate, t.SUTStart))
		Expect(t.Containers+t.Migrate+t.SUTStart).To(BeNumerically("<", 30*time.Second), "start-up without the build")
		images := env.Images()
		Expect(images).To(HaveKey(chaos.Postgres))
		Expect(images).To(HaveKey(chaos.Redis))
		Expect(images).NotTo(HaveKey(chaos.MaxAPI), "the fake MAX runs in process")
		Expect(images[chaos.Redis]).To(ContainSubstring("redis"))
		Expect(env.SUT()).To(Or(HavePrefix("go build "), Equal(shared.sut)))
		Expect(env.Client().Readyz(bg()).Status).To(Equal(http.StatusOK))

		environ := sutEnviron(env)
		Expect(environ).To(ContainElement("REDIS_URL=redis://" + env.ProxyAddr(chaos.Redis) + "/0"))
		Expect(environ).To(ContainElement("MAX_API_URL=http://" + env.ProxyAddr(chaos.MaxAPI)))
		Expect(environ).To(ContainElement(HavePrefix("DATABASE_URL=postgres://")))
		Expect(environ).To(ContainElement(ContainSubstring("@" + env.ProxyAddr(chaos.Postgres) + "/")))
		Expect(environ).To(ContainElement("MAX_API_TOKEN=" + env.MaxToken()))
		for _, dep := range chaos.Dependencies() {
			Expect(env.ProxyAddr(dep)).To(HavePrefix("127.0.0.1:"))
			Expect(env.ProxyAddr(dep)).NotTo(Equal(env.DirectAddr(bg(), dep)))
		}
	})

	It("resets fast: faults off, data re-seeded, fake MAX cleared, SUT restarted with new settings", func() {
		ctx := bg()
		seedCache(env, chaos.CacheEntry{ChatID: 99, Count: 1, UpdatedAt: time.Now()})
		seedCacheRaw(env, chaos.CacheKey(98), "not json", 0)
		Expect(env.Max().PutChat(maxapi.Chat{ID: -99, ParticipantsCount: 5})).To(Succeed())
		env.Max().Fail(maxapi.Status(503))
		apply(env, chaos.Latency(chaos.Redis, 2*time.Second, 0), chaos.Down(chaos.MaxAPI), chaos.MaxStatus(502))
		Expect(env.ActiveFaults()).To(HaveLen(3))
		resp, err := http.Get(env.MaxURL() + "/me")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		pid := env.SUTPid()

		now := time.Now().UTC().Truncate(time.Millisecond)
		rows := []chaos.ChatRow{
			{ID: 1, Name: "linked", MaxChatID: -100, Count: 7, UpdatedAt: now},
			{ID: 2, Name: "unlinked"},
		}
		Expect(env.Reset(ctx,
			chaos.WithChats(rows...),
			chaos.WithCache(chaos.CacheEntry{ChatID: 1, Count: 8, UpdatedAt: now, TTL: time.Hour}),
			chaos.WithMaxChats(maxapi.Chat{ID: -100, ParticipantsCount: 9}),
			chaos.WithSUTEnv("PARTICIPANTS_STALE_AFTER=2h"),
		)).To(Succeed())
		took := env.Timings().Reset
		AddReportEntry("reset", took.String())
		Expect(took).To(BeNumerically("<", 3*time.Second), "target: well under 1 s")

		By("taking every fault away")
		Expect(env.ActiveFaults()).To(BeEmpty())
		Expect(env.Max().Faults()).To(BeEmpty())
		d, err := pingThroughProxy(env, time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(d).To(BeNumerically("<", time.Second))
		resp, err = http.Get("http://" + env.ProxyAddr(chaos.MaxAPI) + "/chats/-100")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), "the fake answers again (no token sent)")

		By("re-seeding the data and emptying the fake's journal")
		Expect(chatRows(env)).To(Equal([]chaos.ChatRow{rows[0], {ID: 2, Name: "unlinked"}}))
		entry, found := cacheEntry(env, 1)
		Expect(found).To(BeTrue())
		Expect(entry.Count).To(Equal(8))
		Expect(entry.TTL).To(BeNumerically("~", time.Hour, time.Minute))
		_, found = cacheEntry(env, 99)
		Expect(found).To(BeFalse(), "redis was flushed")
		row, found, err := env.ReadChatRow(ctx, 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		Expect(row).To(Equal(rows[0]))
		_, found, err = env.ReadChatRow(ctx, 99)
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeFalse())
		read, found, err := env.ReadCacheEntry(ctx, 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		Expect(read.Count).To(Equal(8))
		seedCacheRaw(env, chaos.CacheKey(97), "not json", 0)
		_, found, err = env.ReadCacheEntry(ctx, 97)
		Expect(err).To(HaveOccurred(), "an entry that is not the contract's JSON")
		Expect(found).To(BeTrue())
		Expect(env.Redis().Exists(ctx, chaos.CacheKey(98)).Val()).To(BeZero())

		By("reading several chats of both stores at once, as a row's every observation does")
		byID, err := env.ReadChatRows(ctx, []int64{99, 1})
		Expect(err).NotTo(HaveOccurred())
		Expect(byID).To(Equal(map[int64]chaos.ChatRow{1: rows[0]}), "chat 1 alone: chat 2 was not asked for, chat 99 has no row")
		reads := env.ReadCacheEntries(ctx, []int64{97, 99, 1})
		Expect(reads).To(HaveLen(3))
		Expect(reads[0].Found).To(BeTrue())
		Expect(reads[0].Err).To(MatchError(ContainSubstring("not the contract's JSON")))
		Expect(reads[1]).To(Equal(chaos.CacheRead{}), "no entry for chat 99")
		Expect(reads[2].Err).NotTo(HaveOccurred())
		Expect(reads[2].Entry.ChatID).To(Equal(int64(1)))
		Expect(reads[2].Entry.Count).To(Equal(read.Count))
		Expect(reads[2].Entry.UpdatedAt).To(Equal(read.UpdatedAt))
		Expect(reads[2].Entry.TTL).To(BeNumerically("~", time.Hour, time.Minute))
		// The restarted SUT may already have probed GET /me with its token; the journal holds
		// nothing older than the reset but the unauthenticated call made just above.
		var ours []maxapi.Call
		for _, c := range env.Max().Journal() {
			if !c.Auth {
				ours = append(ours, c)
			}
		}
		Expect(ours).To(HaveLen(1), "only the call made just above")
		c, ok := env.Max().Chat(-100)
		Expect(ok).To(BeTrue())
		Expect(c.ParticipantsCount).To(Equal(9))
		_, ok = env.Max().Chat(-99)
		Expect(ok).To(BeFalse())

		By("restarting the SUT with the requested settings and fresh baselines")
		Expect(env.SUTPid()).NotTo(Equal(pid))
		Expect(sutEnviron(env)).To(ContainElement("PARTICIPANTS_STALE_AFTER=2h"))
		Expect(env.SUTEnv()).To(ContainElement("PARTICIPANTS_STALE_AFTER=2h"))
		for _, r := range env.Logs().Records() {
			Expect(r.Run).To(Equal(env.Logs().Records()[0].Run), "only the new run's lines: %s", r.Raw)
		}
		Expect(env.Baseline().Names()).NotTo(BeEmpty())

		By("assigning ids after the seeded ones")
		more := seedChats(env, chaos.ChatRow{Name: "third"})
		Expect(more[0].ID).To(Equal(int64(3)))

		By("keeping the settings across a plain restart")
		pid = env.SUTPid()
		Expect(env.RestartSUT(ctx)).To(Succeed())
		Expect(env.SUTPid()).NotTo(Equal(pid))
		Expect(sutEnviron(env)).To(ContainElement("PARTICIPANTS_STALE_AFTER=2h"), "a restart keeps the settings")
	})

	It("seeds what other replicas of the reference service share in Redis, in the format they read", func() {
		ctx := bg()
		now := time.Now()
		Expect(env.Reset(ctx,
			chaos.WithChats(chaos.ChatRow{ID: 1, Name: "a", MaxChatID: -1, Count: 1}),
			chaos.WithBackoffs(chaos.Backoff{ChatID: 1, Until: now.Add(time.Minute)}),
			chaos.WithSharedQuota(chaos.SharedQuota{QuotaSpentUntil: now.Add(10 * time.Second), PausedUntil: now.Add(30 * time.Second)}),
		)).To(Succeed())

		By("a spent budget: the next call's time in Unix microseconds, expiring then")
		v, err := env.Redis().Get(ctx, chaos.QuotaKey).Result()
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(Equal(strconv.FormatInt(now.Add(10*time.Second).UnixMicro(), 10)))
		// The keys expire at the times seeded, however long the reset took (2 s once, on a
		// loaded machine): what remains is measured from now, not from before the reset.
		remains := time.Until(now.Add(10 * time.Second))
		ttl, err := env.Redis().PTTL(ctx, chaos.QuotaKey).Result()
		Expect(err).NotTo(HaveOccurred())
		Expect(ttl).To(BeNumerically("~", remains, time.Second))

		By("the pause's end in Unix milliseconds, expiring with it")
		v, err = env.Redis().Get(ctx, chaos.PauseKey).Result()
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(Equal(strconv.FormatInt(now.Add(30*time.Second).UnixMilli(), 10)))
		remains = time.Until(now.Add(30 * time.Second))
		ttl, err = env.Redis().PTTL(ctx, chaos.PauseKey).Result()
		Expect(err).NotTo(HaveOccurred())
		Expect(ttl).To(BeNumerically("~", remains, time.Second))

		By("a backoff as an RFC 3339 time")
		v, err = env.Redis().Get(ctx, chaos.BackoffKey(1)).Result()
		Expect(err).NotTo(HaveOccurred())
		Expect(time.Parse(time.RFC3339Nano, v)).To(BeTemporally("~", now.Add(time.Minute), time.Millisecond))
	})

	It("measures reset durations", func() {
		var ds []time.Duration
		for range 5 {
			Expect(env.Reset(bg(), chaos.WithChats(chaos.ChatRow{Name: "a", MaxChatID: -1, Count: 1}))).To(Succeed())
			ds = append(ds, env.Timings().Reset)
		}
		slices.Sort(ds)
		AddReportEntry("reset durations (5 runs)", fmt.Sprintf("min=%s median=%s max=%s", ds[0], ds[2], ds[4]))
		Expect(ds[2]).To(BeNumerically("<", 2*time.Second), "target: well under 1 s")
	})

	It("captures the SUT's stderr as JSON records and never sees a secret in it", func() {
		mark := env.LogMark()
		Expect(env.Client().List(bg()).Status).To(Equal(http.StatusOK))
		Eventually(func() int { return env.Logs().Since(mark).Count() }).WithTimeout(5 * time.Second).Should(BeNumerically(">", 0))
		all := env.Logs().Since(0)
		started := all.Msg("Server started")
		Expect(started.Count()).To(BeNumerically(">=", 1))
		rec, _ := started.First()
		Expect(rec.JSON).To(BeTrue())
		Expect(rec.Level).To(Equal("INFO"))
		for _, secret := range env.Secrets() {
			Expect(all.Contains(secret)).To(BeFalse(), "a secret reached the log")
		}
	})

	It("runs another service from the next start on, with its settings, until told to return", func() {
		own := env.SUT()
		bin, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", env.SUTPid()))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			Expect(env.UseSUT(nil, nil)).To(Succeed())
			Expect(env.Reset(ctx)).To(Succeed())
		})
		Expect(env.UseSUT([]string{"X"}, []string{"NOT_A_SETTING"})).To(MatchError(ContainSubstring(`"NOT_A_SETTING" is not KEY=VALUE`)))
		other := []string{"env", "FAULTLINE_VARIANT=other", bin}
		Expect(env.UseSUT(other, []string{"PARTICIPANTS_STALE_AFTER=3h"})).To(Succeed())
		Expect(sutEnviron(env)).NotTo(ContainElement("FAULTLINE_VARIANT=other"), "the running service is left alone")

		Expect(env.Reset(bg())).To(Succeed())
		Expect(env.SUT()).To(Equal(strings.Join(other, " ")))
		Expect(sutEnviron(env)).To(ContainElements("FAULTLINE_VARIANT=other", "PARTICIPANTS_STALE_AFTER=3h"))
		Expect(env.Reset(bg(), chaos.WithSUTEnv("PARTICIPANTS_STALE_AFTER=4h"))).To(Succeed())
		Expect(sutEnviron(env)).To(ContainElement("PARTICIPANTS_STALE_AFTER=4h"), "a reset's overrides come last")

		Expect(env.UseSUT(nil, nil)).To(Succeed())
		Expect(env.Reset(bg())).To(Succeed())
		Expect(env.SUT()).To(Equal(own))
		Expect(sutEnviron(env)).NotTo(ContainElement("FAULTLINE_VARIANT=other"))
		Expect(sutEnviron(env)).NotTo(ContainElement("PARTICIPANTS_STALE_AFTER=3h"))
	})

	It("clears: every fault lifted, the SUT stopped, and its unclean exit reported", func() {
		_, err := env.Inject(bg(), chaos.Down(chaos.Redis))
		Expect(err).NotTo(HaveOccurred())
		Expect(env.ActiveFaults()).To(HaveLen(1))
		Expect(env.Clear(bg())).To(Succeed())
		Expect(env.ActiveFaults()).To(BeEmpty())
		Expect(env.SUTPid()).To(BeZero())
		Expect(env.Reset(bg())).To(Succeed(), "nothing of the cleared run is left to report")

		Expect(syscall.Kill(env.SUTPid(), syscall.SIGKILL)).To(Succeed())
		err = env.Clear(bg())
		Expect(errors.Is(err, chaos.ErrSUT)).To(BeTrue(), "%v", err)
		Expect(env.Reset(bg())).To(Succeed())
	})

	It("reports an SUT that does not exit cleanly", func() {
		Expect(syscall.Kill(env.SUTPid(), syscall.SIGKILL)).To(Succeed())
		err := env.StopSUT()
		Expect(errors.Is(err, chaos.ErrSUT)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("exited uncleanly"))
		Expect(env.StartSUT(bg())).To(Succeed())
		Expect(env.Client().Readyz(bg()).Status).To(Equal(http.StatusOK))
	})

	It("stops the SUT with SIGTERM and checks that it exits 0", func() {
		Expect(env.StopSUT()).To(Succeed())
		Expect(env.SUTPid()).To(BeZero())
		Expect(env.Client().Livez(bg()).Err).To(HaveOccurred())
		Expect(env.Logs().Msg("Server stopped").Count()).To(Equal(1))
		Expect(env.StartSUT(bg())).To(Succeed())
	})

	It("reports an SUT that cannot start, with its last output", func() {
		Expect(env.StopSUT()).To(Succeed())
		err := env.StartSUT(bg(), "HTTP_ADDR=127.0.0.1:-1")
		Expect(errors.Is(err, chaos.ErrSUT)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("exited before it was ready"))
		Expect(strings.Count(err.Error(), "\n")).To(BeNumerically(">", 1), "the output is attached")
	})
})
