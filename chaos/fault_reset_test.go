package chaos_test

import (
	"errors"
	"io"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Reset (reset_peer)", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("resets the connection on the first bytes, and undo restores", func() {
		undo := apply(env, chaos.Reset(chaos.Redis))
		took, err := pingThroughProxy(env, 5*time.Second)
		Expect(err).To(HaveOccurred())
		Expect(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)).To(BeTrue(), "%v", err)
		Expect(took).To(BeNumerically("<", time.Second), "a reset is immediate, not a timeout")
		undo()
		_, err = pingThroughProxy(env, time.Second)
		Expect(err).NotTo(HaveOccurred())
	})
})
