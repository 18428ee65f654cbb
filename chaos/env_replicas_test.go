package chaos_test

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

// hostPort is the host:port of a client's base URL.
func hostPort(c *chaos.Client) string {
	GinkgoHelper()
	u, err := url.Parse(c.URL())
	Expect(err).NotTo(HaveOccurred())
	return u.Host
}

// environOf reads a process's environment from /proc.
func environOf(pid int) []string {
	GinkgoHelper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	Expect(err).NotTo(HaveOccurred())
	return strings.FieldsFunc(string(b), func(r rune) bool { return r == 0 })
}

// listed is how many GET /chats/all a snapshot counts.
func listed(s chaos.Snapshot) float64 {
	return s.Value("http_requests_total", "method", http.MethodGet, "route", "/chats/all")
}

// refused reports whether a probe found nothing listening.
func refused(r chaos.Response) bool { return errors.Is(r.Err, syscall.ECONNREFUSED) }

var _ = Describe("Replicas", Label("env"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("runs more SUT processes beside the primary, each on its own port, and combines their metrics", func() {
		ctx := bg()
		mark := env.LogMark()
		Expect(env.Reset(ctx)).To(Succeed())
		Expect(env.Clients()).To(Equal([]*chaos.Client{env.Client()}))
		primary := env.SUTPid()

		Expect(env.StartReplicas(ctx, 2)).To(Succeed())

		By("answering on three distinct addresses, the primary's first")
		clients := env.Clients()
		Expect(clients).To(HaveLen(3))
		Expect(clients[0]).To(BeIdenticalTo(env.Client()))
		addrs := map[string]bool{}
		for i, c := range clients {
			Expect(c.Readyz(ctx).Status).To(Equal(http.StatusOK), "replica %d", i)
			addrs[c.URL()] = true
		}
		Expect(addrs).To(HaveLen(3))
		Expect(env.SUTPid()).To(Equal(primary), "SUTPid stays the primary's")
		pids := env.ReplicaPids()
		Expect(pids).To(HaveLen(3))
		Expect(pids[0]).To(Equal(primary))
		Expect(pids[1:]).NotTo(ContainElement(BeZero()))
		Expect(map[int]bool{pids[0]: true, pids[1]: true, pids[2]: true}).To(HaveLen(3))

		By("with the run's settings and an address of each replica's own")
		environ := environOf(pids[2])
		Expect(environ).To(ContainElement("HTTP_ADDR=" + hostPort(clients[2])))
		Expect(environ).To(ContainElement("REDIS_URL=redis://" + env.ProxyAddr(chaos.Redis) + "/0"))
		Expect(environ).To(ContainElement("MAX_API_URL=http://" + env.ProxyAddr(chaos.MaxAPI)))

		By("telling each replica's log lines apart by run")
		started := env.Logs().Since(mark).Msg("Server started").Records()
		Expect(started).To(HaveLen(3))
		runs := map[int]string{}
		for _, r := range started {
			runs[r.Run] = r.Attr("addr")
		}
		Expect(runs).To(HaveLen(3))
		Expect(runs).To(ConsistOf(hostPort(clients[0]), hostPort(clients[1]), hostPort(clients[2])))

		By("summing the replicas' counters and keeping the largest gauge")
		for i, c := range clients {
			for range i + 1 {
				Expect(c.List(ctx).Status).To(Equal(http.StatusOK), "replica %d", i)
			}
		}
		Eventually(func() (float64, error) {
			s, err := env.Metrics(ctx)
			return listed(s), err
		}).WithTimeout(10*time.Second).Should(Equal(6.0), "1 + 2 + 3 lists")
		var each []chaos.Snapshot
		for i, c := range clients {
			m := c.Metrics(ctx)
			Expect(m.OK()).To(BeTrue(), "replica %d: %s", i, m.Response)
			Expect(listed(m.Snapshot)).To(Equal(float64(i+1)), "replica %d", i)
			each = append(each, m.Snapshot)
		}
		all, err := env.Metrics(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(listed(all)).To(Equal(listed(chaos.Combine(each...))))
		capacity := each[0].Value("participants_refresh_queue_capacity")
		Expect(capacity).To(BeNumerically(">", 0))
		Expect(all.Value("participants_refresh_queue_capacity")).To(Equal(capacity), "a gauge is not summed")
		Expect(all.Value("chatd_build_info")).To(Equal(1.0))

		By("killing a replica: its port refuses, it keeps its place, metrics skip it")
		Expect(env.KillReplica(1)).To(Succeed())
		Expect(refused(clients[1].Readyz(ctx))).To(BeTrue(), "%s", clients[1].Readyz(ctx))
		Expect(clients[2].Readyz(ctx).Status).To(Equal(http.StatusOK))
		Expect(env.Clients()).To(Equal(clients))
		Expect(env.ReplicaPids()).To(Equal([]int{pids[0], 0, pids[2]}))
		Expect(env.KillReplica(1)).To(Succeed(), "killing it again does nothing")
		all, err = env.Metrics(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(listed(all)).To(Equal(1.0 + 3.0))
		pages, err := env.MetricsPages(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(pages).To(HaveLen(2), "the primary's page and the third replica's")
		Expect(listed(pages[0].Snapshot)).To(Equal(1.0), "the primary first")
		Expect(listed(pages[1].Snapshot)).To(Equal(3.0))
		Expect(string(pages[1].Body)).To(ContainSubstring("chatd_build_info"))
		Expect(env.KillReplica(0)).To(MatchError(ContainSubstring("primary")))
		Expect(env.KillReplica(3)).NotTo(Succeed())

		By("stopping them all, without reporting the killed one")
		Expect(env.StopSUT()).To(Succeed())
		Expect(env.Clients()).To(Equal([]*chaos.Client{env.Client()}))
		Expect(env.ReplicaPids()).To(Equal([]int{0}))
		for i, c := range clients {
			Expect(refused(c.Readyz(ctx))).To(BeTrue(), "replica %d", i)
		}
		err = env.StartReplicas(ctx, 1)
		Expect(errors.Is(err, chaos.ErrSUT)).To(BeTrue(), "without the primary: %v", err)
		Expect(errors.Is(env.StartReplicas(ctx, -1), chaos.ErrSUT)).To(BeTrue())

		By("starting again from the primary alone on a reset")
		Expect(env.Reset(ctx)).To(Succeed())
		Expect(env.Clients()).To(HaveLen(1))
		Expect(env.SUTPid()).NotTo(BeZero())
		Expect(env.Client().Readyz(ctx).Status).To(Equal(http.StatusOK))
		Expect(env.StartReplicas(ctx, 0)).To(Succeed())
		Expect(env.Clients()).To(HaveLen(1))
	})

	It("keeps each replica's port across resets", func() {
		ctx := bg()
		Expect(env.StartReplicas(ctx, 1)).To(Succeed())
		Expect(env.StartReplicas(ctx, 1)).To(Succeed(), "a second call adds replica 2")
		first := env.Clients()
		Expect(first).To(HaveLen(3))
		Expect(env.Reset(ctx)).To(Succeed())
		Expect(env.StartReplicas(ctx, 3)).To(Succeed())
		again := env.Clients()
		Expect(again).To(HaveLen(4))
		for i := range 3 {
			Expect(again[i].URL()).To(Equal(first[i].URL()), "replica %d", i)
		}
		Expect(again[3].URL()).NotTo(BeElementOf(first[0].URL(), first[1].URL(), first[2].URL()))
		Expect(env.StopSUT()).To(Succeed())
	})

	It("reports a replica that exits uncleanly, with its last output", func() {
		ctx := bg()
		Expect(env.StartReplicas(ctx, 2)).To(Succeed())
		pid := env.ReplicaPids()[2]
		Expect(syscall.Kill(pid, syscall.SIGKILL)).To(Succeed())
		Eventually(func() int { return env.ReplicaPids()[2] }).WithTimeout(10 * time.Second).Should(BeZero())

		_, err := env.Metrics(ctx)
		Expect(err).To(MatchError(ContainSubstring("replica 2")))
		Expect(errors.Is(env.KillReplica(2), chaos.ErrSUT)).To(BeTrue(), "it is not running")

		err = env.StopSUT()
		Expect(errors.Is(err, chaos.ErrSUT)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("replica 2"))
		Expect(err.Error()).To(ContainSubstring("exited uncleanly"))
		Expect(err.Error()).NotTo(ContainSubstring("replica 1"))
		Expect(strings.Count(err.Error(), "\n")).To(BeNumerically(">", 1), "the output is attached")
		Expect(env.Clients()).To(HaveLen(1))
		Expect(env.StartSUT(ctx)).To(Succeed())
	})

	It("stops the replicas it started when one does not become ready, with that one's output", func() {
		ctx := bg()
		Expect(env.StartReplicas(ctx, 2)).To(Succeed())
		clients := env.Clients()
		Expect(env.RestartSUT(ctx)).To(Succeed())
		Expect(env.Clients()).To(HaveLen(1), "a restart stops the replicas")

		By("taking replica 1's port")
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", hostPort(clients[1]))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = l.Close() })

		err = env.StartReplicas(ctx, 2)
		Expect(errors.Is(err, chaos.ErrSUT)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("replica 1"))
		Expect(err.Error()).To(ContainSubstring("exited before it was ready"))
		Expect(err.Error()).NotTo(ContainSubstring("replica 2"))
		Expect(strings.Count(err.Error(), "\n")).To(BeNumerically(">", 1), "the output is attached")
		Expect(env.Clients()).To(HaveLen(1))
		Expect(refused(clients[2].Readyz(ctx))).To(BeTrue(), "replica 2 was stopped again")
		Expect(env.Client().Readyz(ctx).Status).To(Equal(http.StatusOK), "the primary runs on")

		Expect(l.Close()).To(Succeed())
		Expect(env.StartReplicas(ctx, 2)).To(Succeed())
		Expect(env.Clients()).To(HaveLen(3))
	})
})
