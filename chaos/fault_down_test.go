package chaos_test

import (
	"errors"
	"net/http"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Down", Label("env", "fault"), func() {
	var env *chaos.Env
	BeforeEach(func() { env = theEnv() })

	It("refuses connections to redis until undone", func() {
		undo := apply(env, chaos.Down(chaos.Redis))
		_, err := pingThroughProxy(env, time.Second)
		Expect(errors.Is(err, syscall.ECONNREFUSED)).To(BeTrue(), "%v", err)
		undo()
		_, err = pingThroughProxy(env, time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.ActiveFaults()).To(BeEmpty())
	})

	It("refuses connections to postgres and to the fake MAX", func() {
		undo := apply(env, chaos.Down(chaos.Postgres), chaos.Down(chaos.MaxAPI))
		Expect(env.ActiveFaults()).To(Equal([]string{"down(postgres)", "down(max_api)"}))
		dsn := env.DatabaseURL(bg())
		proxied, err := pgx.ParseConfig(dsn)
		Expect(err).NotTo(HaveOccurred())
		proxied.Host, proxied.Port = "127.0.0.1", portOf(env.ProxyAddr(chaos.Postgres))
		proxied.ConnectTimeout = time.Second
		_, err = pgx.ConnectConfig(bg(), proxied)
		Expect(errors.Is(err, syscall.ECONNREFUSED)).To(BeTrue(), "%v", err)
		_, err = http.Get("http://" + env.ProxyAddr(chaos.MaxAPI) + "/me")
		Expect(errors.Is(err, syscall.ECONNREFUSED)).To(BeTrue(), "%v", err)
		Eventually(func() int { return env.Client().Readyz(bg()).Status }).WithTimeout(10*time.Second).
			Should(Equal(http.StatusServiceUnavailable), "the SUT sees the database gone")

		undo()
		conn, err := pgx.ConnectConfig(bg(), proxied)
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Close(bg())).To(Succeed())
		Eventually(func() int { return env.Client().Readyz(bg()).Status }).WithTimeout(15 * time.Second).Should(Equal(http.StatusOK))
	})
})
