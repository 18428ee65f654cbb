package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// ErrDockerUnavailable is returned by Start when the Docker engine does not answer.
var ErrDockerUnavailable = errors.New("docker engine not reachable")

// ErrImageUnavailable is returned by Start when a container image is neither present nor
// pullable and no offline replacement exists.
var ErrImageUnavailable = errors.New("container image unavailable")

// dockerPingTimeout bounds the first contact with the engine, so a dead socket fails in
// seconds instead of hanging behind testcontainers' retries.
const dockerPingTimeout = 3 * time.Second

// Labels put on every container the harness starts. The pid label lets a later run remove
// containers left behind by a harness process that was killed before it could clean up.
const (
	labelOwner = "io.faultline.chaos"
	labelPID   = "io.faultline.chaos.pid"
	// labelHost keeps a harness from judging pids of another machine or PID namespace
	// that shares the engine.
	labelHost = "io.faultline.chaos.host"
)

// connectDocker returns a client for the engine at host (the default socket when empty)
// after checking, within dockerPingTimeout, that the engine answers.
func connectDocker(ctx context.Context, host string) (*client.Client, error) {
	if host == "" {
		host = client.DefaultDockerHost
	}
	cli, err := client.New(client.WithHost(host))
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w; %s", ErrDockerUnavailable, host, err, dockerHint)
	}
	pingCtx, cancel := context.WithTimeout(ctx, dockerPingTimeout)
	defer cancel()
	if _, err := cli.Ping(pingCtx, client.PingOptions{}); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("%w at %s: %w; %s", ErrDockerUnavailable, host, err, dockerHint)
	}
	return cli, nil
}

const dockerHint = "install Docker (apt-get install -y docker.io) and start the engine " +
	"(dockerd >/var/log/dockerd.log 2>&1 &), or point DOCKER_HOST at a running one"

// imageChoice is the image a container runs and why.
type imageChoice struct {
	image   string
	offline bool
}

// resolveImage picks the image to run for one dependency. The wanted image is used when it
// is present or can be pulled. When the wanted image is the built-in default and cannot be
// had, the offline image built by scripts/offline-images.sh is used if it exists; an image
// the user named explicitly is never silently replaced.
func resolveImage(ctx context.Context, cli *client.Client, wanted string, explicit bool, offline, envVar string) (imageChoice, error) {
	if present, err := imagePresent(ctx, cli, wanted); err != nil {
		return imageChoice{}, err
	} else if present {
		return imageChoice{image: wanted}, nil
	}
	pullErr := pullImage(ctx, cli, wanted)
	if pullErr == nil {
		return imageChoice{image: wanted}, nil
	}
	if !explicit && offline != "" {
		if present, err := imagePresent(ctx, cli, offline); err != nil {
			return imageChoice{}, err
		} else if present {
			return imageChoice{image: offline, offline: true}, nil
		}
	}
	return imageChoice{}, fmt.Errorf("%w: %s is not present and cannot be pulled (%v); "+
		"build local images with scripts/offline-images.sh (they are used automatically) or set %s",
		ErrImageUnavailable, wanted, pullErr, envVar)
}

func imagePresent(ctx context.Context, cli *client.Client, image string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := cli.ImageInspect(ctx, image)
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", image, err)
	}
}

// pullTimeout bounds a pull; on machines without a registry the pull fails at once, and
// on machines with one a small alpine image arrives well within it.
const pullTimeout = 2 * time.Minute

func pullImage(ctx context.Context, cli *client.Client, image string) error {
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	resp, err := cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pull %s: %w", image, err)
	}
	defer func() { _ = resp.Close() }()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("pull %s: %w", image, err)
	}
	return nil
}

// reapOrphans removes containers that an earlier harness process on this machine started
// and could not terminate (it was killed). Containers of live processes, including other
// harness runs sharing the engine, are left alone.
func reapOrphans(ctx context.Context, cli *client.Client) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", labelOwner),
	})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	removed := 0
	for _, c := range list.Items {
		pid, err := strconv.Atoi(c.Labels[labelPID])
		if err != nil || pid <= 0 || c.Labels[labelHost] != hostname() || processAlive(pid) {
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return removed, fmt.Errorf("remove orphan container %s: %w", shortID(c.ID), err)
		}
		removed++
	}
	return removed, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// processAlive reports whether a process with this pid exists on this machine.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ownerLabels are the labels for a container started by this process.
func ownerLabels() map[string]string {
	return map[string]string{labelOwner: "true", labelPID: strconv.Itoa(os.Getpid()), labelHost: hostname()}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
