package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// startRedisProcess starts redis-server on a reserved loopback port, saving nothing.
func startRedisProcess(ctx context.Context, workDir string) (*depProcess, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: no redis-server on PATH; %s", ErrBinariesUnavailable, binariesHint)
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, "redis")
	if err := os.Mkdir(dir, 0o750); err != nil {
		return nil, err
	}
	if err := chownTree(dir, cred); err != nil {
		return nil, err
	}
	port, err := reservePort()
	if err != nil {
		return nil, err
	}
	p := &depProcess{
		dep: Redis, port: port, dir: dir, cred: cred, stopSig: syscall.SIGTERM, logFile: filepath.Join(workDir, "redis.log"),
		version: redisVersion(ctx, bin) + " (process)",
		argv: []string{bin, "--bind", "127.0.0.1", "--port", portOf(port.addr), "--dir", dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no"},
	}
	if err := p.start(ctx); err != nil {
		return nil, errors.Join(err, p.terminate(context.WithoutCancel(ctx)))
	}
	return p, nil
}

// redisVersion is "redis-server 7.0.15" from redis-server's "Redis server v=7.0.15 sha=...".
func redisVersion(ctx context.Context, bin string) string {
	for _, f := range strings.Fields(commandVersion(ctx, bin)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return "redis-server " + v
		}
	}
	return "redis-server"
}
