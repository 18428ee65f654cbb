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
		undo := apply(env, chaos.Latency(chaos.Redis, 300*time.Millisecond, 0))
		Expect(env.ActiveFaults()).To(Equal([]string{"latency(redis, 300ms±0s) downstream"}))
		took, err := pingThroughProxy(env, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(took).To(BeNumerically(">=", 300*time.Millisecond))
		undo()
		// Gone: the fastest of three round trips is under the delay, which every one of them
		// would pay while it held (one alone may be slowed by a busy machine).
		fastest := time.Hour
		for range 3 {
			took, err = pingThroughProxy(env, 5*time.Second)
			Expect(err).NotTo(HaveOccurred())
			fastest = min(fastest, took)
		}
		Expect(fastest).To(BeNumerically("<", 300*time.Millisecond))
	})

	It("slows the SUT's own requests to the dependency", func() {
		before := env.Client().Readyz(bg()).Latency
		apply(env, chaos.Latency(chaos.Postgres, 400*time.Millisecond, 50*time.Millisecond))
		after := env.Client().WithTimeout(10 * time.Second).Health(bg())
		AddReportEntry("health latency", before.String()+" -> "+after.Latency.String())
		Expect(after.Latency).To(BeNumerically(">=", 300*time.Millisecond))
	})

	It("combines faults, turns direction and toxicity, and undoes them in one call", func() {
		undo := apply(env, chaos.Faults(
			chaos.Latency(chaos.Redis, 300*time.Millisecond, 0).Upstream(),
			chaos.Latency(chaos.Redis, 5*time.Second, 0).WithToxicity(0),
		))
		Expect(env.ActiveFaults()).To(Equal([]string{
			"latency(redis, 300ms±0s) upstream + latency(redis, 5s±0s) downstream p=0.00"}))
		took, err := pingThroughProxy(env, 10*time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(took).To(And(BeNumerically(">=", 300*time.Millisecond), BeNumerically("<", 5*time.Second)),
			"the upstream delay applies; the toxic with toxicity 0 does not")
		undo()
		Expect(env.ActiveFaults()).To(BeEmpty())
		took, err = pingThroughProxy(env, 10*time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(took).To(BeNumerically("<", 300*time.Millisecond))
	})
})
