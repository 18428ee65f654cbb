package chaos_test

import (
	"errors"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Blackhole and Timeout", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("Blackhole makes a raw go-redis call through the proxy time out", func() {
		undo := apply(env, chaos.Blackhole(chaos.Redis))
		took, err := pingThroughProxy(env, 300*time.Millisecond)
		var ne net.Error
		Expect(errors.As(err, &ne)).To(BeTrue(), "%v", err)
		Expect(ne.Timeout()).To(BeTrue(), "%v", err)
		Expect(took).To(BeNumerically(">=", 300*time.Millisecond))
		undo()
		_, err = pingThroughProxy(env, time.Second)
		Expect(err).NotTo(HaveOccurred())
	})

	It("Timeout answers nothing and closes the connection after the given time", func() {
		undo := apply(env, chaos.Timeout(chaos.Redis, 200*time.Millisecond))
		DeferCleanup(undo)
		took, err := pingThroughProxy(env, 5*time.Second)
		Expect(err).To(HaveOccurred())
		Expect(took).To(And(BeNumerically(">=", 150*time.Millisecond), BeNumerically("<", 4*time.Second)))
	})
})
