package chaos_test

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/contract"
	"github.com/faultline/faultline/fakes/maxapi"
)

var _ = Describe("Probes against the running service", Label("env", "probe"), func() {
	var (
		env     *chaos.Env
		ctx     context.Context
		long    = time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Millisecond)
		rows    []chaos.ChatRow
		sources = contract.Sources()
	)
	BeforeEach(func() {
		rows = []chaos.ChatRow{
			{ID: 1, Name: "one", MaxChatID: -101, Count: 10, UpdatedAt: long},
			{ID: 2, Name: "two", MaxChatID: -102, Count: 20, UpdatedAt: long},
			{ID: 3, Name: "three"},
		}
		env = theEnv(
			chaos.WithChats(rows...),
			chaos.WithMaxChats(maxapi.Chat{ID: -101, ParticipantsCount: 11}, maxapi.Chat{ID: -102, ParticipantsCount: 21}),
		)
		ctx = bg()
	})

	It("lists chats in id order, with limit and offset", func() {
		r := env.Client().List(ctx)
		Expect(r.OK()).To(BeTrue(), r.String())
		Expect(r.Chats).To(HaveLen(3))
		for i, c := range r.Chats {
			Expect(c.ID).To(Equal(rows[i].ID))
			Expect(c.Name).To(Equal(rows[i].Name))
			Expect(sources).To(ContainElement(c.ParticipantsSource))
		}
		Expect(r.Chats[2].MaxChatID).To(BeNil())
		page := env.Client().List(ctx, chaos.Limit(1), chaos.Offset(1))
		Expect(page.OK()).To(BeTrue(), page.String())
		Expect(page.Chats).To(HaveLen(1))
		Expect(page.Chats[0].ID).To(Equal(int64(2)))
	})

	It("gets the contract's 400 for bad parameters and 404 for an unknown chat", func() {
		for _, p := range []chaos.Param{chaos.Limit(0), chaos.Limit(1001), chaos.Offset(-1), chaos.Query("sort", "name")} {
			r := env.Client().List(ctx, p)
			Expect(r.Status).To(Equal(http.StatusBadRequest), r.String())
			Expect(r.APIError).NotTo(BeNil(), r.String())
			Expect(r.APIError.Code).To(Equal("invalid_parameter"))
		}
		Expect(env.Client().Get(ctx, 999).Status).To(Equal(http.StatusNotFound))
		Expect(env.Client().Do(ctx, http.MethodGet, "/chats/abc").Status).To(Equal(http.StatusBadRequest))
		g := env.Client().Get(ctx, 1)
		Expect(g.OK()).To(BeTrue(), g.String())
		Expect(g.Chat.Name).To(Equal("one"))
	})

	It("refreshes from MAX: source api, new count in the database and in Redis", func() {
		r := env.Client().Refresh(ctx, 1)
		Expect(r.OK()).To(BeTrue(), r.String())
		Expect(r.Chat.ParticipantsSource).To(Equal(chaos.SourceAPI))
		Expect(r.Chat.ParticipantsCount).To(Equal(11))
		row, found := chatRow(env, 1)
		Expect(found).To(BeTrue())
		Expect(row.Count).To(Equal(11))
		Expect(row.UpdatedAt).To(BeTemporally(">", long))
		entry, found := cacheEntry(env, 1)
		Expect(found).To(BeTrue())
		Expect(entry.Count).To(Equal(11))
		calls := env.Max().ChatCalls(-101)
		Expect(calls).NotTo(BeEmpty())
		Expect(calls[len(calls)-1].Auth).To(BeTrue())
		Expect(calls[len(calls)-1].Status).To(Equal(http.StatusOK))
	})

	It("sees a failed refresh fall back to the database, counted, logged and overwriting nothing", func() {
		seedCache(env, chaos.CacheEntry{ChatID: 2, Count: 19, UpdatedAt: long, TTL: time.Hour})
		before := metrics(env)
		mark := env.LogMark()
		apply(env, chaos.MaxStatus(503))

		r := env.Client().Refresh(ctx, 2)
		Expect(r.OK()).To(BeTrue(), r.String())
		Expect(r.Chat.ParticipantsSource).To(Equal(chaos.SourceDatabase))
		Expect(r.Chat.ParticipantsCount).To(Equal(20))

		row, _ := chatRow(env, 2)
		Expect(row).To(Equal(rows[1]), "the row is untouched")
		entry, _ := cacheEntry(env, 2)
		Expect(entry.Count).To(Equal(19), "the cache entry is untouched")
		Expect(env.Max().ChatCalls(-102)).NotTo(BeEmpty())

		delta := metrics(env).Delta(before)
		Expect(delta.Value("participants_max_api_errors_total")).To(BeNumerically(">=", 1))
		Expect(delta.Value("http_requests_total")).To(BeNumerically(">=", 1))
		Eventually(func() int {
			return env.Logs().Since(mark).Msg("Using fallback data source").With("reason", "max_api_unavailable").Level("WARN").Count()
		}).WithTimeout(5 * time.Second).Should(BeNumerically(">=", 1))
		Expect(env.Logs().Since(mark).Msg("MAX API call failed").Level("ERROR").Count()).To(BeNumerically(">=", 1))
	})

	It("reads health, liveness, readiness and metrics", func() {
		h := env.Client().Health(ctx)
		Expect(h.Err).NotTo(HaveOccurred())
		Expect(h.Status).To(Equal(http.StatusOK))
		Expect([]string{"healthy", "degraded"}).To(ContainElement(h.Health.Service))
		Expect(h.Health.Dependencies).To(HaveKeyWithValue("database", "healthy"))
		Expect(h.Health.Dependencies).To(HaveKey("redis"))
		Expect(h.Health.Dependencies).To(HaveKey("max_api"))
		Expect(env.Client().Livez(ctx).Status).To(Equal(http.StatusOK))
		Expect(env.Client().Readyz(ctx).Status).To(Equal(http.StatusOK))

		before := metrics(env)
		for range 3 {
			Expect(env.Client().List(ctx).Status).To(Equal(http.StatusOK))
		}
		Expect(metrics(env).Delta(before).Value("http_requests_total")).To(BeNumerically(">=", 3))
	})
})
