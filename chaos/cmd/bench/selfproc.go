package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// selfProcess is this binary started as a server of its own (the raw floor, the quota
// case's fake MAX): a process, as the service is, so that it shares no runtime with the
// load generator and the proxies of the bench process.
type selfProcess struct {
	cmd *exec.Cmd
	url string
}

// startSelf starts this binary with command as its only argument and environ added to the
// bench's environment (settings go there, so that no secret is on a command line), and
// waits for the address it prints once it listens.
func startSelf(ctx context.Context, command string, environ ...string) (*selfProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, command) //nolint:gosec // G204: this binary itself
	cmd.Env = append(os.Environ(), environ...)
	cmd.Stderr = os.Stderr
	// A bench killed outright takes its servers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	type answer struct {
		line string
		err  error
	}
	read := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		read <- answer{line, err}
	}()
	var a answer
	select {
	case a = <-read:
	case <-time.After(selfStartTimeout):
		a.err = fmt.Errorf("none within %s", selfStartTimeout)
	}
	if a.err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("no address from its process: %w", a.err)
	}
	return &selfProcess{cmd: cmd, url: "http://" + strings.TrimSpace(a.line)}, nil
}

// selfStartTimeout bounds the wait for a server of this binary to print its address.
const selfStartTimeout = 30 * time.Second

// serveCommand is the server this binary runs when started with command (startSelf), nil
// for any other first argument.
func serveCommand(args []string) func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return nil
	}
	switch args[0] {
	case floorCommand:
		return serveFloor
	case maxCommand:
		return serveMax
	}
	return nil
}

func (p *selfProcess) URL() string { return p.url }

func (p *selfProcess) Pid() int { return p.cmd.Process.Pid }

func (p *selfProcess) Close() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

// serveSelf serves h on a loopback port, prints the address on stdout, and stops when ctx
// ends (SIGINT or SIGTERM).
func serveSelf(ctx context.Context, h http.Handler, stdout io.Writer) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if _, err := fmt.Fprintln(stdout, ln.Addr().String()); err != nil {
		return err
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
