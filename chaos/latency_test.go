package chaos_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Latency percentiles", Label("unit"), func() {
	It("ranks the measured latencies by the nearest-rank method", func() {
		i := 0
		l := chaos.MeasureLatency(context.Background(), 100, func(context.Context) chaos.Response {
			i++
			status := 200
			if i%10 == 0 {
				status = 503
			}
			return chaos.Response{Status: status, Latency: time.Duration(101-i) * time.Millisecond}
		})
		Expect(l.Durations).To(HaveLen(100))
		Expect(l.Percentile(50)).To(Equal(50 * time.Millisecond))
		Expect(l.Percentile(99)).To(Equal(99 * time.Millisecond))
		Expect(l.Max()).To(Equal(100 * time.Millisecond))
		Expect(l.Statuses).To(Equal(map[int]int{200: 90, 503: 10}))
		Expect(chaos.Latencies{}.Percentile(99)).To(BeZero())
	})
})
