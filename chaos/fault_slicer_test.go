package chaos_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Slicer", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("delivers the same bytes in small delayed pieces", func() {
		value := strings.Repeat("0123456789", 30)
		Expect(env.Redis().Set(bg(), "sliced", value, 0).Err()).To(Succeed())
		undo := apply(env, chaos.Slicer(chaos.Redis, 10, 5, 20*time.Millisecond))
		c := proxiedRedis(env, 10*time.Second)
		t0 := time.Now()
		got, err := c.Get(bg(), "sliced").Result()
		took := time.Since(t0)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(value), "a slicer changes timing, not content")
		Expect(took).To(BeNumerically(">=", 200*time.Millisecond), "about 30 slices 20 ms apart")
		undo()
		_, err = pingThroughProxy(env, time.Second)
		Expect(err).NotTo(HaveOccurred())
	})
})
