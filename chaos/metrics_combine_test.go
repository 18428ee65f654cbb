package chaos_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Combining replicas' metrics", Label("unit"), func() {
	parse := func(s string) chaos.Snapshot {
		GinkgoHelper()
		snap, err := chaos.ParseMetrics(strings.NewReader(s))
		Expect(err).NotTo(HaveOccurred())
		return snap
	}

	DescribeTable("merges series as a query over every instance would",
		func(want string, replicas ...string) {
			snaps := make([]chaos.Snapshot, len(replicas))
			for i, r := range replicas {
				snaps[i] = parse(r)
			}
			got := chaos.Combine(snaps...)
			expected := parse(want)
			expected.Time = got.Time
			// Equal, not just the same values: the series are in ParseMetrics' order.
			Expect(got).To(Equal(expected), "got:\n%s", got)
		},
		Entry("counters and histogram parts summed",
			`http_requests_total{method="GET",route="/chats/all",status="200"} 5
http_requests_total{method="GET",route="/chats/all",status="500"} 1
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="0.1"} 4
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="+Inf"} 6
http_request_duration_seconds_sum{method="GET",route="/chats/all"} 1.75
http_request_duration_seconds_count{method="GET",route="/chats/all"} 6
`,
			`# TYPE http_requests_total counter
http_requests_total{method="GET",route="/chats/all",status="200"} 2
http_requests_total{method="GET",route="/chats/all",status="500"} 1
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="0.1"} 1
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="+Inf"} 2
http_request_duration_seconds_sum{method="GET",route="/chats/all"} 0.5
http_request_duration_seconds_count{method="GET",route="/chats/all"} 2
`,
			`# TYPE http_requests_total counter
http_requests_total{method="GET",route="/chats/all",status="200"} 3
http_requests_total{method="GET",route="/chats/all",status="500"} 0
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="0.1"} 3
http_request_duration_seconds_bucket{method="GET",route="/chats/all",le="+Inf"} 4
http_request_duration_seconds_sum{method="GET",route="/chats/all"} 1.25
http_request_duration_seconds_count{method="GET",route="/chats/all"} 4
`),
		Entry("gauges at their largest",
			`circuit_breaker_state{dependency="redis"} 2
circuit_breaker_state{dependency="database"} 1
participants_refresh_queue_length 7
temperature_delta -1
`,
			`# TYPE circuit_breaker_state gauge
circuit_breaker_state{dependency="redis"} 2
circuit_breaker_state{dependency="database"} 0
participants_refresh_queue_length 3
temperature_delta -1
`,
			`circuit_breaker_state{dependency="redis"} 0
circuit_breaker_state{dependency="database"} 1
participants_refresh_queue_length 7
temperature_delta -5
`),
		Entry("series present in one snapshot only kept, in key order",
			`participants_max_api_errors_total{reason="auth"} 4
participants_max_api_errors_total{reason="timeout"} 3
participants_data_freshness_seconds 12.5
dependency_up{dependency="redis"} 1
`,
			`participants_max_api_errors_total{reason="timeout"} 3
participants_data_freshness_seconds 12.5
`,
			`participants_max_api_errors_total{reason="auth"} 4
dependency_up{dependency="redis"} 1
`),
		Entry("three replicas",
			`participants_refresh_total{result="success"} 6
participants_refresh_queue_capacity 64
`,
			`participants_refresh_total{result="success"} 1
participants_refresh_queue_capacity 64
`,
			`participants_refresh_total{result="success"} 2
participants_refresh_queue_capacity 64
`,
			`participants_refresh_total{result="success"} 3
participants_refresh_queue_capacity 64
`),
	)

	It("returns a single snapshot unchanged", func() {
		s := parse(`# TYPE participants_max_api_errors_total counter
participants_max_api_errors_total{reason="timeout"} 2
participants_max_api_errors_total{reason="server_error"} 1
# TYPE participants_data_freshness_seconds gauge
participants_data_freshness_seconds 12.5
`)
		Expect(chaos.Combine(s)).To(Equal(s))
	})

	It("takes the latest scrape's time", func() {
		a, b := parse("x_total 1\n"), parse("x_total 2\n")
		a.Time, b.Time = time.Unix(200, 0), time.Unix(100, 0)
		Expect(chaos.Combine(a, b).Time).To(Equal(time.Unix(200, 0)))
		Expect(chaos.Combine(b, a).Time).To(Equal(time.Unix(200, 0)))
	})

	It("leaves its inputs as they were", func() {
		a, b := parse("x_total 1\n"), parse("x_total 2\n")
		Expect(chaos.Combine(a, b).Value("x_total")).To(Equal(3.0))
		Expect(a.Value("x_total")).To(Equal(1.0))
		Expect(b.Value("x_total")).To(Equal(2.0))
	})

	It("holds nothing when given nothing", func() {
		Expect(chaos.Combine().Names()).To(BeEmpty())
	})
})
