package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// containerSpec describes how one dependency runs in a container. The commands and the log
// lines waited for are the ones both the official images and the offline images honour.
type containerSpec struct {
	dep     Dependency
	port    string
	env     map[string]string
	cmd     []string
	waitLog string
	// waitOccurrences is how many times waitLog must appear: the postgres entrypoint runs a
	// temporary server to initialise the cluster first, so its line appears twice.
	waitOccurrences int
}

func postgresSpec(user, password, db string) containerSpec {
	return containerSpec{
		dep:  Postgres,
		port: "5432/tcp",
		env:  map[string]string{"POSTGRES_USER": user, "POSTGRES_PASSWORD": password, "POSTGRES_DB": db},
		// Durability is worthless in a throw-away test database and costs start-up time.
		cmd:             []string{"postgres", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"},
		waitLog:         "database system is ready to accept connections",
		waitOccurrences: 2,
	}
}

func redisSpec() containerSpec {
	return containerSpec{
		dep:             Redis,
		port:            "6379/tcp",
		cmd:             []string{"redis-server", "--save", "", "--appendonly", "no"},
		waitLog:         "Ready to accept connections",
		waitOccurrences: 1,
	}
}

// depContainer is a running dependency container. Its host port is looked up again after
// every start, because Docker may publish a restarted container on a different port.
type depContainer struct {
	spec   containerSpec
	image  imageChoice
	c      *testcontainers.DockerContainer
	docker *client.Client
}

// containerStartTimeout bounds the wait for a container's readiness log line.
const containerStartTimeout = 60 * time.Second

// tcLogger sends testcontainers' progress lines to the harness's log at debug level.
type tcLogger struct{ log *slog.Logger }

func (l tcLogger) Printf(format string, args ...any) {
	l.log.Debug("testcontainers", "line", strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func runContainer(ctx context.Context, docker *client.Client, spec containerSpec, image imageChoice, log *slog.Logger) (*depContainer, error) {
	port, err := network.ParsePort(spec.port)
	if err != nil {
		return nil, fmt.Errorf("parse port %s: %w", spec.port, err)
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(spec.port),
		testcontainers.WithCmd(spec.cmd...),
		testcontainers.WithLabels(ownerLabels()),
		testcontainers.WithLogger(tcLogger{log: log}),
		// Publish on loopback only: nothing outside this machine may reach the dependencies.
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "0"}}}
		}),
		testcontainers.WithWaitStrategyAndDeadline(containerStartTimeout,
			wait.ForLog(spec.waitLog).WithOccurrence(spec.waitOccurrences).WithPollInterval(50*time.Millisecond)),
	}
	if len(spec.env) > 0 {
		opts = append(opts, testcontainers.WithEnv(spec.env))
	}
	c, err := testcontainers.Run(ctx, image.image, opts...)
	if err != nil {
		if c != nil {
			_ = c.Terminate(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("start %s container from %s: %w", spec.dep, image.image, err)
	}
	return &depContainer{spec: spec, image: image, c: c, docker: docker}, nil
}

func (d *depContainer) describe() string { return d.image.image }

// addr is the container's published address on loopback, for example 127.0.0.1:32768.
func (d *depContainer) addr(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := d.c.MappedPort(ctx, d.spec.port)
	if err != nil {
		return "", fmt.Errorf("%s mapped port: %w", d.spec.dep, err)
	}
	return net.JoinHostPort("127.0.0.1", p.Port()), nil
}

// containerState is what the harness needs to know to bring a container back.
type containerState struct {
	running, paused bool
}

func (d *depContainer) state(ctx context.Context) (containerState, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := d.docker.ContainerInspect(ctx, d.c.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return containerState{}, fmt.Errorf("inspect %s container: %w", d.spec.dep, err)
	}
	st := res.Container.State
	if st == nil {
		return containerState{}, nil
	}
	return containerState{running: st.Running, paused: st.Paused}, nil
}

// containerStopTimeout is how long the engine waits after SIGTERM before it kills.
const containerStopTimeout = 5 * time.Second

func (d *depContainer) stop(ctx context.Context) error {
	timeout := containerStopTimeout
	ctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	if err := d.c.Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("stop %s container: %w", d.spec.dep, err)
	}
	return nil
}

func (d *depContainer) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, containerStartTimeout)
	defer cancel()
	if err := d.c.Start(ctx); err != nil {
		return fmt.Errorf("start %s container: %w", d.spec.dep, err)
	}
	return nil
}

func (d *depContainer) pause(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.docker.ContainerPause(ctx, d.c.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s container: %w", d.spec.dep, err)
	}
	return nil
}

func (d *depContainer) unpause(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.docker.ContainerUnpause(ctx, d.c.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause %s container: %w", d.spec.dep, err)
	}
	return nil
}

// terminate kills and removes the container in one call to the engine: its data is thrown
// away, so a graceful stop buys nothing, and PostgreSQL's answer to SIGTERM (a smart
// shutdown, which waits for its clients) would hold an interrupted run for the whole stop
// timeout.
func (d *depContainer) terminate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := d.docker.ContainerRemove(ctx, d.c.GetContainerID(), client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil {
		return fmt.Errorf("terminate %s container: %w", d.spec.dep, err)
	}
	// testcontainers' own Terminate, which finds the container gone, closes its client.
	if err := testcontainers.TerminateContainer(d.c, testcontainers.StopContext(ctx)); err != nil {
		return fmt.Errorf("release %s container: %w", d.spec.dep, err)
	}
	return nil
}
