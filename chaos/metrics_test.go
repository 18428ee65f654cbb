package chaos_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Metrics snapshots", Label("unit"), func() {
	const before = `# TYPE participants_max_api_errors_total counter
participants_max_api_errors_total{reason="timeout"} 2
participants_max_api_errors_total{reason="server_error"} 1
# TYPE participants_cache_errors_total counter
participants_cache_errors_total 5
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="0.1"} 3
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="+Inf"} 4
http_request_duration_seconds_sum{method="GET",route="/chats/all"} 0.5
http_request_duration_seconds_count{method="GET",route="/chats/all"} 4
`
	const after = `# TYPE participants_max_api_errors_total counter
participants_max_api_errors_total{reason="timeout"} 5
participants_max_api_errors_total{reason="server_error"} 1
participants_max_api_errors_total{reason="rate_limited"} 4
# TYPE participants_cache_errors_total counter
participants_cache_errors_total 5
# TYPE participants_data_freshness_seconds gauge
participants_data_freshness_seconds 12.5
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="0.1"} 3
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="+Inf"} 6
http_request_duration_seconds_sum{method="GET",route="/chats/all"} 1.5
http_request_duration_seconds_count{method="GET",route="/chats/all"} 6
`

	parse := func(s string) chaos.Snapshot {
		snap, err := chaos.ParseMetrics(strings.NewReader(s))
		Expect(err).NotTo(HaveOccurred())
		return snap
	}

	It("looks values up by name and labels, summing over labels not given", func() {
		s := parse(after)
		Expect(s.Value("participants_max_api_errors_total")).To(Equal(10.0))
		Expect(s.Value("participants_max_api_errors_total", "reason", "timeout")).To(Equal(5.0))
		Expect(s.Value("participants_max_api_errors_total", "reason", "not_found")).To(Equal(0.0))
		Expect(s.Value("participants_data_freshness_seconds")).To(Equal(12.5))
		Expect(s.Value("http_request_duration_seconds_count", "route", "/chats/all")).To(Equal(6.0))
		Expect(s.Has("absent_total")).To(BeFalse())
		Expect(s.Series("participants_max_api_errors_total")).To(HaveLen(3))
	})

	It("subtracts a baseline, counting series new since then from zero", func() {
		d := chaos.Delta(parse(before), parse(after))
		Expect(d.Value("participants_max_api_errors_total", "reason", "timeout")).To(Equal(3.0))
		Expect(d.Value("participants_max_api_errors_total", "reason", "rate_limited")).To(Equal(4.0))
		Expect(d.Value("participants_cache_errors_total")).To(Equal(0.0))
		Expect(d.Value("http_request_duration_seconds_count")).To(Equal(2.0))
		Expect(parse(after).Delta(parse(before)).Value("participants_max_api_errors_total")).To(Equal(7.0))
		Expect(d.String()).To(ContainSubstring(`participants_max_api_errors_total{reason="rate_limited"} 4`))
	})

	It("refuses text that is not the exposition format", func() {
		_, err := chaos.ParseMetrics(strings.NewReader("this is { not metrics"))
		Expect(err).To(HaveOccurred())
	})
})
