package chaos_test

import (
	"bufio"
	"io"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("SlowClose", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	// closeDelay asks Redis to close the connection (QUIT) and measures how long the close
	// takes to reach the client.
	closeDelay := func() time.Duration {
		conn, err := net.DialTimeout("tcp", env.ProxyAddr(chaos.Redis), time.Second)
		Expect(err).NotTo(HaveOccurred())
		defer func() { _ = conn.Close() }()
		Expect(conn.SetDeadline(time.Now().Add(10 * time.Second))).To(Succeed())
		_, err = conn.Write([]byte("QUIT\r\n"))
		Expect(err).NotTo(HaveOccurred())
		r := bufio.NewReader(conn)
		line, err := r.ReadString('\n')
		Expect(err).NotTo(HaveOccurred())
		Expect(line).To(Equal("+OK\r\n"))
		t0 := time.Now()
		_, err = r.ReadByte()
		Expect(err).To(MatchError(io.EOF))
		return time.Since(t0)
	}

	It("delays the close of connections the dependency closes", func() {
		undo := apply(env, chaos.SlowClose(chaos.Redis, 500*time.Millisecond))
		Expect(closeDelay()).To(BeNumerically(">=", 400*time.Millisecond))
		undo()
		Expect(closeDelay()).To(BeNumerically("<", 400*time.Millisecond))
	})
})
