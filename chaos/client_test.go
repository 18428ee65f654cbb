package chaos_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Probe client", Label("unit"), func() {
	var (
		srv    *httptest.Server
		client *chaos.Client
		ctx    context.Context
	)
	BeforeEach(func() {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /chats/all", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("limit") == "0" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"code":"invalid_parameter","message":"limit must be 1..1000"}}`))
				return
			}
			_, _ = w.Write([]byte(`{"chats":[{"id":1,"name":"a","max_chat_id":-5,"participants_count":3,"participants_source":"cache","participants_updated_at":"2026-01-02T03:04:05Z"},{"id":2,"name":"b","max_chat_id":null,"participants_count":0,"participants_source":"database"}]}`))
		})
		mux.HandleFunc("GET /chats/{id}", func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("id") == "9" {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"error":{"code":"database_unavailable","message":"try later"}}`))
				return
			}
			if r.PathValue("id") == "8" {
				_, _ = w.Write([]byte(`{"id":`))
				return
			}
			if r.PathValue("id") == "7" {
				time.Sleep(300 * time.Millisecond) // the slow server under test, not synchronisation
			}
			_, _ = w.Write([]byte(`{"id":1,"name":"a","max_chat_id":-5,"participants_count":3,"participants_source":"api"}`))
		})
		mux.HandleFunc("GET /health/detailed", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"service":"unhealthy","timestamp":"2026-01-02T03:04:05Z","dependencies":{"database":"unhealthy","redis":"healthy","max_api":"unknown"}}`))
		})
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("# TYPE x_total counter\nx_total 3\n"))
		})
		srv = httptest.NewServer(mux)
		DeferCleanup(srv.Close)
		client = chaos.NewClient(srv.URL)
		ctx = context.Background()
	})

	It("decodes the list with its parameters", func() {
		r := client.List(ctx, chaos.Limit(10), chaos.Offset(0))
		Expect(r.OK()).To(BeTrue(), r.String())
		Expect(r.Path).To(Equal("/chats/all?limit=10&offset=0"))
		Expect(r.Chats).To(HaveLen(2))
		Expect(*r.Chats[0].MaxChatID).To(Equal(int64(-5)))
		Expect(r.Chats[0].ParticipantsUpdatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))).To(BeTrue())
		Expect(r.Chats[1].MaxChatID).To(BeNil())
		Expect(r.Chats[1].ParticipantsUpdatedAt).To(BeNil())
		Expect(r.Latency).To(BeNumerically(">", 0))
	})

	It("decodes the contract's error body and keeps the headers", func() {
		r := client.List(ctx, chaos.Limit(0))
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(r.Err).NotTo(HaveOccurred())
		Expect(r.APIError).To(Equal(&chaos.APIError{Code: "invalid_parameter", Message: "limit must be 1..1000"}))
		g := client.Get(ctx, 9)
		Expect(g.Status).To(Equal(http.StatusServiceUnavailable))
		Expect(g.Header.Get("Retry-After")).To(Equal("1"))
		Expect(g.APIError.Code).To(Equal("database_unavailable"))
	})

	It("flags a body that does not match the contract", func() {
		r := client.Get(ctx, 8)
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(errors.Is(r.Err, chaos.ErrDecode)).To(BeTrue())
		Expect(r.OK()).To(BeFalse())
	})

	It("decodes health for 200 and 503, and parses metrics", func() {
		h := client.Health(ctx)
		Expect(h.Err).NotTo(HaveOccurred())
		Expect(h.Health.Dependencies).To(HaveKeyWithValue("database", "unhealthy"))
		m := client.Metrics(ctx)
		Expect(m.Snapshot.Value("x_total")).To(Equal(3.0))
	})

	It("reports a timeout and a refused connection as observations", func() {
		r := client.WithTimeout(50*time.Millisecond).Get(ctx, 7)
		Expect(r.TimedOut()).To(BeTrue(), r.String())
		Expect(r.Status).To(BeZero())
		srv.Close()
		r = client.Get(ctx, 1)
		Expect(errors.Is(r.Err, syscall.ECONNREFUSED)).To(BeTrue(), r.String())
	})

	It("keeps one connection between scrapes, and scrapes a service restarted on the same port", func() {
		metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("# TYPE x_total counter\nx_total 1\n"))
		})
		var mu sync.Mutex
		opened := 0
		countNew := func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				mu.Lock()
				opened++
				mu.Unlock()
			}
		}
		opens := func() int {
			mu.Lock()
			defer mu.Unlock()
			return opened
		}
		first := httptest.NewUnstartedServer(metrics)
		first.Config.ConnState = countNew
		first.Start()
		addr := first.Listener.Addr().String()
		c := chaos.NewClient("http://" + addr)
		for range 3 {
			m := c.Metrics(ctx)
			Expect(m.Err).NotTo(HaveOccurred())
			Expect(m.Snapshot.Value("x_total")).To(Equal(1.0))
		}
		Expect(opens()).To(Equal(1), "three scrapes, one connection")
		for range 2 {
			Expect(c.Livez(ctx).Status).To(Equal(http.StatusOK))
		}
		Expect(opens()).To(Equal(3), "every other probe opens its own connection")

		// A restarted service closes the kept connection; the next scrape must not fail
		// for it, whether or not the connection was dropped first.
		first.Close()
		ln, err := net.Listen("tcp", addr)
		Expect(err).NotTo(HaveOccurred())
		second := httptest.NewUnstartedServer(metrics)
		second.Listener = ln
		second.Start()
		DeferCleanup(second.Close)
		m := c.Metrics(ctx)
		Expect(m.Err).NotTo(HaveOccurred())
		Expect(m.Status).To(Equal(http.StatusOK))
		c.CloseIdle()
		Expect(c.Metrics(ctx).Status).To(Equal(http.StatusOK))
	})
})
