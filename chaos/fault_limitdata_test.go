package chaos_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("LimitData", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("cuts answers longer than the limit", func() {
		value := strings.Repeat("y", 1000)
		Expect(env.Redis().Set(bg(), "long", value, 0).Err()).To(Succeed())
		undo := apply(env, chaos.LimitData(chaos.Redis, 100))
		c := proxiedRedis(env, 2*time.Second)
		_, err := c.Get(bg(), "long").Result()
		Expect(err).To(HaveOccurred())
		undo()
		got, err := proxiedRedis(env, 2*time.Second).Get(bg(), "long").Result()
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(value))
	})
})
