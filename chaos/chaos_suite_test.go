package chaos_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
)

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "chaos")
}

// shared is the one environment of the suite. It is started by the first spec that asks
// for it, so the unit specs run without Docker, and closed after the suite (also on
// failure or interrupt, when Ginkgo still runs AfterSuite).
var shared struct {
	env     *chaos.Env
	err     error
	started bool
	sut     string
}

// theEnv returns the suite's environment, starting it on first use, and resets it for
// the calling spec.
func theEnv(opts ...chaos.ResetOption) *chaos.Env {
	GinkgoHelper()
	if !shared.started {
		shared.started = true
		shared.env, shared.err = startSuiteEnv()
	}
	Expect(shared.err).NotTo(HaveOccurred(), "start the environment")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	Expect(shared.env.Reset(ctx, opts...)).To(Succeed())
	return shared.env
}

// startSuiteEnv starts the environment around the reference service, or around the
// command in CHAOS_SUT_CMD.
func startSuiteEnv() (*chaos.Env, error) {
	opts := []chaos.Option{
		chaos.WithLogger(slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelInfo}))),
	}
	shared.sut = chaos.DefaultSUTPackage
	if cmd := os.Getenv("CHAOS_SUT_CMD"); cmd != "" {
		shared.sut = cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, err := chaos.Start(ctx, opts...)
	if err != nil {
		return nil, err
	}
	t := env.Timings()
	AddReportEntry("environment start", fmt.Sprintf("sut=%s start=%s containers=%s build=%s migrate=%s sut_start=%s",
		shared.sut, t.Start, t.Containers, t.Build, t.Migrate, t.SUTStart))
	return env, nil
}

var _ = AfterSuite(func() {
	if shared.env == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	Expect(shared.env.Close(ctx)).To(Succeed())
})
