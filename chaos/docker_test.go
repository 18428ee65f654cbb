package chaos_test

import (
	"context"
	"errors"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

var _ = Describe("Without Docker", Label("unit"), func() {
	DescribeTable("Start fails fast with one message saying what to install or start",
		func(host string) {
			lookup := func(k string) (string, bool) {
				switch k {
				case "DOCKER_HOST":
					return host, true
				case "CHAOS_BACKEND":
					return chaos.BackendDocker, true
				}
				return "", false
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			t0 := time.Now()
			env, err := chaos.Start(ctx, chaos.WithLookupEnv(lookup), chaos.WithSUTCommand("/bin/true"))
			took := time.Since(t0)
			AddReportEntry("docker unreachable: failed after", took.String())
			Expect(env).To(BeNil())
			Expect(errors.Is(err, chaos.ErrDockerUnavailable)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring("apt-get install -y docker.io"))
			Expect(err.Error()).To(ContainSubstring("dockerd"))
			Expect(took).To(BeNumerically("<", 10*time.Second))
		},
		Entry("a socket that does not exist", "unix:///nonexistent/docker.sock"),
		Entry("a TCP port nobody listens on", "tcp://127.0.0.1:1"),
	)
})

var _ = Describe("Images", Label("env", "docker"), func() {
	It("fails with one clear message when an image is neither present nor pullable", func() {
		lookup := func(k string) (string, bool) {
			switch k {
			case "CHAOS_POSTGRES_IMAGE":
				return "faultline-absent/postgres:0", true
			case "CHAOS_REDIS_IMAGE":
				return "faultline-absent/redis:0", true
			}
			return os.LookupEnv(k)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		env, err := chaos.Start(ctx, chaos.WithLookupEnv(lookup), chaos.WithSUTCommand("/bin/true"))
		Expect(env).To(BeNil())
		Expect(errors.Is(err, chaos.ErrImageUnavailable)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("faultline-absent/postgres:0"))
		Expect(err.Error()).To(ContainSubstring("scripts/offline-images.sh"))
		Expect(err.Error()).To(ContainSubstring("CHAOS_POSTGRES_IMAGE"))
	})
})

var _ = Describe("Backend auto", Label("env"), func() {
	It("runs PostgreSQL and Redis as processes when Docker does not answer", func() {
		lookup := func(k string) (string, bool) {
			switch k {
			case "DOCKER_HOST":
				return "unix:///nonexistent/docker.sock", true
			case "CHAOS_BACKEND":
				return "", false
			}
			return os.LookupEnv(k)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		env, err := chaos.Start(ctx, chaos.WithLookupEnv(lookup))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(env.Close(context.Background())).To(Succeed()) })
		Expect(env.Backend()).To(Equal(chaos.BackendProcess))
		Expect(env.Images()[chaos.Postgres]).To(ContainSubstring("(process)"))
		Expect(env.DB().Ping(ctx)).To(Succeed())
		Expect(env.Redis().Ping(ctx).Err()).To(Succeed())
		Expect(env.Client().Readyz(ctx).Status).To(Equal(200))
	})
})
