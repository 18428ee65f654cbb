package chaos_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Latency", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("adds the delay to every answer and is gone after undo", func() {
		undo := env.Apply(chaos.Latency(chaos.Redis, 300*time.Millisecond, 0))
		Expect(env.ActiveFaults()).To(Equal([]string{"latency(redis, 300ms±0s) downstream"}))
		took, err := pingThroughProxy(env, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(took).To(BeNumerically(">=", 300*time.Millisecond))
		undo()
		took, err = pingThroughProxy(env, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(took).To(BeNumerically("<", 300*time.Millisecond))
	})

	It("slows the SUT's own requests to the dependency", func() {
		before := env.Client().Readyz(bg()).Latency
		env.Apply(chaos.Latency(chaos.Postgres, 400*time.Millisecond, 50*time.Millisecond))
		after := env.Client().WithTimeout(10 * time.Second).Health(bg())
		AddReportEntry("health latency", before.String()+" -> "+after.Latency.String())
		Expect(after.Latency).To(BeNumerically(">=", 300*time.Millisecond))
	})
})
