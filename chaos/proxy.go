package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// proxies is the embedded Toxiproxy: one proxy per dependency, listening on loopback.
type proxies struct {
	server *toxiproxy.ApiServer
	byDep  map[Dependency]*toxiproxy.Proxy
	// seq makes toxic names unique, so the same fault can be applied twice and each undo
	// removes its own toxic.
	seq atomic.Int64
	api *httptest.Server
}

func newProxies() *proxies {
	// Toxiproxy's own log would interleave with the test output; the harness logs what matters.
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	return &proxies{server: server, byDep: make(map[Dependency]*toxiproxy.Proxy)}
}

// add creates and starts the proxy for dep on a random loopback port.
func (p *proxies) add(dep Dependency, upstream string) error {
	proxy := toxiproxy.NewProxy(p.server, string(dep), "127.0.0.1:0", upstream)
	if err := p.server.Collection.Add(proxy, true); err != nil {
		return fmt.Errorf("start %s proxy: %w", dep, err)
	}
	p.byDep[dep] = proxy
	return nil
}

func (p *proxies) get(dep Dependency) (*toxiproxy.Proxy, error) {
	proxy, ok := p.byDep[dep]
	if !ok {
		return nil, fmt.Errorf("no proxy for dependency %q", dep)
	}
	return proxy, nil
}

// listen is the proxy's address, stable for the life of the environment.
func (p *proxies) listen(dep Dependency) string {
	proxy, err := p.get(dep)
	if err != nil {
		return ""
	}
	proxy.Lock()
	defer proxy.Unlock()
	return proxy.Listen
}

// setUpstream points dep's proxy at a new upstream, keeping its listen address and its
// enabled state. Connections through the old upstream are closed.
func (p *proxies) setUpstream(dep Dependency, upstream string) error {
	proxy, err := p.get(dep)
	if err != nil {
		return err
	}
	proxy.Lock()
	input := &toxiproxy.Proxy{Listen: proxy.Listen, Upstream: upstream, Enabled: proxy.Enabled}
	proxy.Unlock()
	if err := proxy.Update(input); err != nil {
		return fmt.Errorf("point %s proxy at %s: %w", dep, upstream, err)
	}
	return nil
}

// enable starts accepting connections again; enabling an enabled proxy is a no-op.
func (p *proxies) enable(dep Dependency) error {
	proxy, err := p.get(dep)
	if err != nil {
		return err
	}
	if err := proxy.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return fmt.Errorf("enable %s proxy: %w", dep, err)
	}
	return nil
}

// disable closes the listener and every open connection, so new connections are refused.
func (p *proxies) disable(dep Dependency) error {
	proxy, err := p.get(dep)
	if err != nil {
		return err
	}
	proxy.Stop()
	return nil
}

// toxicSpec is a toxic as Toxiproxy's API takes it.
type toxicSpec struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	Stream     string  `json:"stream"`
	Toxicity   float32 `json:"toxicity"`
	Attributes any     `json:"attributes"`
}

// addToxic adds the toxic to dep's proxy and returns the name it was given.
func (p *proxies) addToxic(dep Dependency, spec toxicSpec) (string, error) {
	proxy, err := p.get(dep)
	if err != nil {
		return "", err
	}
	spec.Name = fmt.Sprintf("%s_%s_%d", spec.Type, spec.Stream, p.seq.Add(1))
	body, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("encode %s toxic: %w", spec.Type, err)
	}
	if _, err := proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return "", fmt.Errorf("add %s toxic to %s proxy: %w", spec.Type, dep, err)
	}
	return spec.Name, nil
}

// removeToxic removes a toxic by name; a toxic already gone (after a reset) is no error.
func (p *proxies) removeToxic(ctx context.Context, dep Dependency, name string) error {
	proxy, err := p.get(dep)
	if err != nil {
		return err
	}
	if err := proxy.Toxics.RemoveToxic(ctx, name); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("remove toxic %s from %s proxy: %w", name, dep, err)
	}
	return nil
}

// reset removes every toxic and enables every proxy.
func (p *proxies) reset(ctx context.Context) error {
	var errs []error
	for dep, proxy := range p.byDep {
		proxy.Toxics.ResetToxics(ctx)
		if err := p.enable(dep); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// serveAPI exposes Toxiproxy's own HTTP API on loopback, so toxiproxy-cli or curl can
// drive the proxies of a running stack.
func (p *proxies) serveAPI() string {
	if p.api == nil {
		p.api = httptest.NewServer(http.Handler(p.server.Routes()))
	}
	return p.api.URL
}

func (p *proxies) close() {
	if p.api != nil {
		p.api.Close()
	}
	_ = p.server.Collection.Clear()
}
