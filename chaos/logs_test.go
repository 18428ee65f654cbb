package chaos_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Logs", Label("unit"), func() {
	const log = `service starting
{"time":"2026-01-02T03:04:05.000000006Z","level":"INFO","msg":"Server started","addr":"127.0.0.1:8080"}
{"time":"2026-01-02T03:04:06Z","level":"WARN","msg":"Using fallback data source","reason":"cache_unavailable","chat_count":3,"fallback_source":"database"}
{"time":"2026-01-02T03:04:07Z","level":"ERROR","msg":"MAX API call failed","chat_id":7,"reason":"timeout","error":"context deadline exceeded"}
{"broken json
{"time":"2026-01-02T03:04:08Z","level":"WARN","msg":"Using fallback data source","reason":"max_api_unavailable","chat_count":1,"fallback_source":"cache"}
last line without newline`

	var logs chaos.Logs
	BeforeEach(func() {
		var err error
		logs, err = chaos.ParseLogs(strings.NewReader(log))
		Expect(err).NotTo(HaveOccurred())
	})

	It("keeps every line, decoding JSON ones and keeping the rest raw", func() {
		Expect(logs.Count()).To(Equal(7))
		raw := logs.Raw().Records()
		Expect(raw).To(HaveLen(3))
		Expect(raw[0].Raw).To(Equal("service starting"))
		Expect(raw[1].Raw).To(Equal(`{"broken json`))
		Expect(raw[2].Raw).To(Equal("last line without newline"))
		first, ok := logs.Msg("Server started").First()
		Expect(ok).To(BeTrue())
		Expect(first.Level).To(Equal("INFO"))
		Expect(first.Attr("addr")).To(Equal("127.0.0.1:8080"))
		Expect(first.Time.Nanosecond()).To(Equal(6))
	})

	It("filters by message, attributes (numbers by value), level and presence", func() {
		fallback := logs.Msg("Using fallback data source")
		Expect(fallback.Count()).To(Equal(2))
		Expect(fallback.With("reason", "cache_unavailable").With("chat_count", 3).Count()).To(Equal(1))
		Expect(fallback.With("chat_count", 4).Count()).To(Equal(0))
		Expect(logs.Level("error").With("chat_id", int64(7)).Count()).To(Equal(1))
		Expect(logs.Has("fallback_source").Count()).To(Equal(2))
		Expect(logs.Contains("context deadline")).To(BeTrue())
		Expect(logs.Contains("secret-token")).To(BeFalse())
	})

	It("narrows to what came after a mark and leaves the base query unchanged", func() {
		recs := logs.Records()
		mark := chaos.LogMark(recs[3].Seq)
		Expect(logs.Since(mark).Count()).To(Equal(4))
		Expect(logs.Since(mark).Msg("Using fallback data source").With("reason", "max_api_unavailable").Count()).To(Equal(1))
		Expect(logs.Count()).To(Equal(7))
		Expect(logs.Tail(2)).To(Equal(recs[5].Raw + "\n" + recs[6].Raw + "\n"))
	})
})
