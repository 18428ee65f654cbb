package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
)

// maxCall is what a client of the MAX API sees through the max_api proxy.
type maxCall struct {
	status  int
	header  http.Header
	body    []byte
	err     error
	latency time.Duration
}

func getMaxChat(env *chaos.Env, chatID string, timeout time.Duration) maxCall {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+env.ProxyAddr(chaos.MaxAPI)+"/chats/"+chatID, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", env.MaxToken())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return maxCall{err: err, latency: time.Since(t0)}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return maxCall{status: resp.StatusCode, header: resp.Header, body: body, err: err, latency: time.Since(t0)}
}

var _ = Describe("MAX faults", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() {
		env = theEnv(chaos.WithMaxChats(maxapi.Chat{ID: -100, ParticipantsCount: 42}, maxapi.Chat{ID: -200, ParticipantsCount: 7}))
	})

	healthy := func() {
		GinkgoHelper()
		c := getMaxChat(env, "-100", 5*time.Second)
		Expect(c.err).NotTo(HaveOccurred())
		Expect(c.status).To(Equal(http.StatusOK))
		var chat struct {
			Count int `json:"participants_count"`
		}
		Expect(json.Unmarshal(c.body, &chat)).To(Succeed())
		Expect(chat.Count).To(Equal(42))
	}

	DescribeTable("each named fault produces its effect, and undo restores",
		func(f chaos.MaxFault, check func(maxCall)) {
			healthy()
			undo := apply(env, f)
			check(getMaxChat(env, "-100", 2*time.Second))
			undo()
			healthy()
			Expect(env.Max().Calls(maxapi.EndpointChat)).To(HaveLen(3))
		},
		Entry("MaxStatus(503)", chaos.MaxStatus(503), func(c maxCall) {
			Expect(c.status).To(Equal(http.StatusServiceUnavailable))
		}),
		Entry("MaxRateLimited(2s)", chaos.MaxRateLimited(2*time.Second), func(c maxCall) {
			Expect(c.status).To(Equal(http.StatusTooManyRequests))
			Expect(c.header.Get("Retry-After")).To(Equal("2"))
		}),
		Entry("MaxRateLimited(0) sends no Retry-After", chaos.MaxRateLimited(0), func(c maxCall) {
			Expect(c.status).To(Equal(http.StatusTooManyRequests))
			Expect(c.header.Values("Retry-After")).To(BeEmpty())
		}),
		Entry("MaxUnauthorized", chaos.MaxUnauthorized(), func(c maxCall) {
			Expect(c.status).To(Equal(http.StatusUnauthorized))
			Expect(string(c.body)).To(ContainSubstring("verify.token"))
		}),
		Entry("MaxForbidden", chaos.MaxForbidden(), func(c maxCall) { Expect(c.status).To(Equal(http.StatusForbidden)) }),
		Entry("MaxNotFound", chaos.MaxNotFound(), func(c maxCall) { Expect(c.status).To(Equal(http.StatusNotFound)) }),
		Entry("MaxMalformed", chaos.MaxMalformed(), func(c maxCall) {
			Expect(c.status).To(Equal(http.StatusOK))
			Expect(json.Valid(c.body)).To(BeFalse())
		}),
		Entry("MaxWrongTypes", chaos.MaxWrongTypes(), func(c maxCall) {
			var chat map[string]any
			Expect(json.Unmarshal(c.body, &chat)).To(Succeed())
			Expect(chat["participants_count"]).To(Equal("42"))
		}),
		Entry("MaxMissingCount", chaos.MaxMissingCount(), func(c maxCall) {
			var chat map[string]any
			Expect(json.Unmarshal(c.body, &chat)).To(Succeed())
			Expect(chat).NotTo(HaveKey("participants_count"))
		}),
		Entry("MaxHang holds the call until the client gives up", chaos.MaxHang(), func(c maxCall) {
			Expect(errors.Is(c.err, context.DeadlineExceeded)).To(BeTrue(), "%v", c.err)
			Expect(c.latency).To(BeNumerically(">=", 2*time.Second))
		}),
		Entry("MaxSlow(300ms)", chaos.MaxSlow(300*time.Millisecond), func(c maxCall) {
			Expect(c.status).To(Equal(http.StatusOK))
			Expect(c.latency).To(BeNumerically(">=", 300*time.Millisecond))
		}),
		Entry("MaxTruncated", chaos.MaxTruncated(), func(c maxCall) {
			Expect(c.status).To(Equal(http.StatusOK))
			Expect(c.err).To(MatchError(io.ErrUnexpectedEOF))
		}),
		Entry("MaxOversized(1 MiB)", chaos.MaxOversized(1<<20), func(c maxCall) {
			Expect(len(c.body)).To(BeNumerically(">=", 1<<20))
		}),
		Entry("MaxDisconnect", chaos.MaxDisconnect(), func(c maxCall) {
			Expect(c.err).To(HaveOccurred())
		}),
	)

	It("narrows a fault to one chat and to a number of calls", func() {
		apply(env, chaos.MaxStatus(502).OnChat(-200).Times(1))
		Expect(getMaxChat(env, "-100", 2*time.Second).status).To(Equal(http.StatusOK))
		Expect(getMaxChat(env, "-200", 2*time.Second).status).To(Equal(http.StatusBadGateway))
		Expect(getMaxChat(env, "-200", 2*time.Second).status).To(Equal(http.StatusOK))
		journal := env.Max().ChatCalls(-200)
		Expect(journal).To(HaveLen(2))
		Expect(journal[0].Fault).To(Equal("status:502"))
	})

	It("Down(max_api) refuses connections", func() {
		undo := apply(env, chaos.Down(chaos.MaxAPI))
		c := getMaxChat(env, "-100", 2*time.Second)
		Expect(errors.Is(c.err, syscall.ECONNREFUSED)).To(BeTrue(), "%v", c.err)
		undo()
		healthy()
	})
})
