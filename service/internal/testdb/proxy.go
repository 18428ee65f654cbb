package testdb

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on a loopback port in front of a server. It forwards by default;
// Refuse makes the server look dead (connections reset, new ones refused) and Hang makes
// it look hung (connections accepted, nothing answered). Restore goes back to forwarding.
// It works the same in front of a local or an external server.
type Proxy struct {
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener
	hanging bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	closed  bool
}

// NewProxy starts a proxy to target; it is closed when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port, to use in place of the server's.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.handle(c) })
		}
	})
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ln == nil {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) isHanging() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hanging
}

func (p *Proxy) handle(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	if p.isHanging() {
		// Swallow whatever the client sends until the connection is closed.
		_, _ = io.Copy(io.Discard, client)
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !p.isHanging() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
}

// closeConns resets every open connection.
func (p *Proxy) closeConnsLocked() {
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			// Linger 0 sends a reset, as a crashed server's kernel would.
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

// Refuse closes the listener and resets every connection: clients see a dead server.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.closeConnsLocked()
}

// Hang keeps accepting connections but forwards nothing in either direction, on new and
// open connections alike: clients see a server that stopped answering.
func (p *Proxy) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hanging = true
}

// Restore forwards again. Connections open during a fault are reset, because bytes were
// lost on them; clients reconnect.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hanging = false
	p.closeConnsLocked()
	if p.ln != nil || p.closed {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return errors.Join(errors.New("proxy: listen again on "+p.addr), err)
	}
	p.serve(ln)
	return nil
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.closeConnsLocked()
	p.mu.Unlock()
	p.wg.Wait()
}
