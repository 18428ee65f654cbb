package chaos_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Bandwidth", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("throttles data from the dependency", func() {
		value := strings.Repeat("x", 16<<10)
		Expect(env.Redis().Set(bg(), "big", value, 0).Err()).To(Succeed())
		undo := apply(env, chaos.Bandwidth(chaos.Redis, 8))
		c := proxiedRedis(env, 10*time.Second)
		t0 := time.Now()
		got, err := c.Get(bg(), "big").Result()
		took := time.Since(t0)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(value))
		Expect(took).To(BeNumerically(">=", time.Second), "16 KB at 8 KB/s")
		undo()
		c = proxiedRedis(env, 10*time.Second)
		t0 = time.Now()
		Expect(c.Get(bg(), "big").Err()).To(Succeed())
		Expect(time.Since(t0)).To(BeNumerically("<", time.Second))
	})
})
