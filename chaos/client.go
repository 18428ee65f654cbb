package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/faultline/faultline/contract"
)

// Participant sources a Chat can report (package contract).
const (
	SourceCache    = contract.SourceCache
	SourceAPI      = contract.SourceAPI
	SourceDatabase = contract.SourceDatabase
)

// Chat is the contract's Chat object as the SUT returns it.
type Chat struct {
	ID                    int64           `json:"id"`
	Name                  string          `json:"name"`
	MaxChatID             *int64          `json:"max_chat_id"`
	ParticipantsCount     int             `json:"participants_count"`
	ParticipantsSource    contract.Source `json:"participants_source"`
	ParticipantsUpdatedAt *time.Time      `json:"participants_updated_at,omitempty"`
}

// APIError is the contract's error body.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Health is the body of GET /health/detailed.
type Health struct {
	Service      string            `json:"service"`
	Timestamp    time.Time         `json:"timestamp"`
	Dependencies map[string]string `json:"dependencies"`
}

// ErrDecode marks a response whose body does not have the shape the contract promises.
var ErrDecode = errors.New("response body does not match the contract")

// Response is what a probe observed: the status, headers and body, how long it took, and
// the transport error if there was no response at all. A failure to get a response is an
// observation, not a harness error, so it is reported here rather than returned as an error.
type Response struct {
	Method  string
	Path    string
	Status  int
	Header  http.Header
	Body    []byte
	Latency time.Duration
	// Err is the transport error (refused, reset, timed out) or an ErrDecode.
	Err error
	// APIError is the decoded error body of a 4xx or 5xx answer.
	APIError *APIError
}

// OK reports whether the request got a 200 with a well-formed body.
func (r Response) OK() bool { return r.Err == nil && r.Status == http.StatusOK }

// TimedOut reports whether the request failed because a deadline passed.
func (r Response) TimedOut() bool {
	var ne net.Error
	return errors.Is(r.Err, context.DeadlineExceeded) || (errors.As(r.Err, &ne) && ne.Timeout())
}

// String summarises the response for failure messages.
func (r Response) String() string {
	if r.Status == 0 {
		return fmt.Sprintf("%s %s: no response after %s: %v", r.Method, r.Path, r.Latency, r.Err)
	}
	body := r.Body
	if len(body) > 512 {
		body = append(body[:512:512], "..."...)
	}
	return fmt.Sprintf("%s %s: %d after %s: %s", r.Method, r.Path, r.Status, r.Latency, body)
}

// ListResponse is the answer to GET /chats/all.
type ListResponse struct {
	Response
	Chats []Chat
}

// ChatResponse is the answer to GET /chats/{id} and POST /chats/{id}/participants/refresh.
type ChatResponse struct {
	Response
	Chat Chat
}

// HealthResponse is the answer to GET /health/detailed.
type HealthResponse struct {
	Response
	Health Health
}

// MetricsResponse is the answer to GET /metrics.
type MetricsResponse struct {
	Response
	Snapshot Snapshot
}

// Param is a query parameter of the list endpoint.
type Param struct{ key, value string }

// Limit is the list's limit parameter.
func Limit(n int) Param { return Param{"limit", strconv.Itoa(n)} }

// Offset is the list's offset parameter.
func Offset(n int) Param { return Param{"offset", strconv.Itoa(n)} }

// Query is any query parameter, as written, for probing invalid input.
func Query(key, value string) Param { return Param{key, value} }

// DefaultProbeTimeout bounds each probe request unless the context is shorter.
const DefaultProbeTimeout = 10 * time.Second

// Client probes the SUT's HTTP API. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
	// scrape keeps its connection between /metrics scrapes: a row scrapes every replica
	// every 100 ms while it settles, and a new connection per scrape cost the harness as
	// much CPU as parsing the page. A scrape is a GET, which the transport sends again on
	// a new connection when a restarted service closed the kept one; CloseIdle drops it.
	scrape  *http.Client
	timeout time.Duration
}

// NewClient returns a client for the service at baseURL (for example http://127.0.0.1:8080).
func NewClient(baseURL string) *Client {
	return &Client{
		base: baseURL,
		// No keep-alive: each probe opens its own connection, so one that a restarted SUT
		// closed never fails the next probe. No compression: the probes are local, and the
		// service would gzip every /metrics scrape (several a second while a row settles)
		// only for the harness to unzip it.
		http:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true, Proxy: nil}},
		scrape:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true, Proxy: nil}},
		timeout: DefaultProbeTimeout,
	}
}

// CloseIdle closes the connection kept between scrapes, as when the service it reaches
// stops.
func (c *Client) CloseIdle() { c.scrape.CloseIdleConnections() }

// URL is the service's base URL.
func (c *Client) URL() string { return c.base }

// WithTimeout returns a client whose requests give up after d.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	cp.timeout = d
	return &cp
}

// List calls GET /chats/all with the given parameters.
func (c *Client) List(ctx context.Context, params ...Param) ListResponse {
	q := url.Values{}
	for _, p := range params {
		q.Add(p.key, p.value)
	}
	path := contract.PathList
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	r := c.Do(ctx, http.MethodGet, path)
	var body struct {
		Chats *[]Chat `json:"chats"`
	}
	decodeOK(&r, &body)
	out := ListResponse{Response: r}
	if r.Err == nil && r.Status == http.StatusOK {
		if body.Chats == nil {
			out.Err = fmt.Errorf("%w: no chats array", ErrDecode)
		} else {
			out.Chats = *body.Chats
		}
	}
	return out
}

// Get calls GET /chats/{id}.
func (c *Client) Get(ctx context.Context, id int64) ChatResponse {
	r := c.Do(ctx, http.MethodGet, "/chats/"+strconv.FormatInt(id, 10))
	out := ChatResponse{}
	decodeOK(&r, &out.Chat)
	out.Response = r
	return out
}

// Refresh calls POST /chats/{id}/participants/refresh.
func (c *Client) Refresh(ctx context.Context, id int64) ChatResponse {
	r := c.Do(ctx, http.MethodPost, contract.PathRefresh(id))
	out := ChatResponse{}
	decodeOK(&r, &out.Chat)
	out.Response = r
	return out
}

// Health calls GET /health/detailed; its body is decoded for 200 and 503 alike.
func (c *Client) Health(ctx context.Context) HealthResponse {
	r := c.send(ctx, http.MethodGet, contract.PathHealthDetailed)
	out := HealthResponse{}
	if r.Err == nil && (r.Status == http.StatusOK || r.Status == http.StatusServiceUnavailable) {
		if err := json.Unmarshal(r.Body, &out.Health); err != nil {
			r.Err = fmt.Errorf("%w: %w", ErrDecode, err)
		}
	} else if r.Err == nil {
		decodeError(&r)
	}
	out.Response = r
	return out
}

// Livez calls GET /livez; its body is not interpreted.
func (c *Client) Livez(ctx context.Context) Response {
	return c.send(ctx, http.MethodGet, contract.PathLivez)
}

// Readyz calls GET /readyz; its body is not interpreted.
func (c *Client) Readyz(ctx context.Context) Response {
	return c.send(ctx, http.MethodGet, contract.PathReadyz)
}

// Metrics calls GET /metrics and parses the text format.
func (c *Client) Metrics(ctx context.Context) MetricsResponse {
	return c.metrics(ctx, ParseMetrics)
}

// MetricsOf scrapes /metrics as Metrics does, keeping only the series called one of names
// (ParseMetricsOf).
func (c *Client) MetricsOf(ctx context.Context, names []string) MetricsResponse {
	return c.metrics(ctx, func(r io.Reader) (Snapshot, error) { return ParseMetricsOf(r, names) })
}

// MetricsWhere scrapes /metrics as Metrics does, keeping only the series whose name keep
// accepts (ParseMetricsWhere); a nil keep keeps every series.
func (c *Client) MetricsWhere(ctx context.Context, keep func(name string) bool) MetricsResponse {
	return c.metrics(ctx, func(r io.Reader) (Snapshot, error) { return ParseMetricsWhere(r, keep) })
}

// metrics calls GET /metrics and parses a 200 answer with parse.
func (c *Client) metrics(ctx context.Context, parse func(io.Reader) (Snapshot, error)) MetricsResponse {
	r := c.sendWith(ctx, c.scrape, http.MethodGet, contract.PathMetrics)
	out := MetricsResponse{}
	if r.Err == nil && r.Status == http.StatusOK {
		snap, err := parse(bytes.NewReader(r.Body))
		if err != nil {
			r.Err = fmt.Errorf("%w: %w", ErrDecode, err)
		}
		out.Snapshot = snap
	}
	out.Response = r
	return out
}

// Do sends a request with an empty body to path (which may carry a query) and records
// the answer. A 4xx or 5xx answer must carry the contract's error body, which is decoded
// into APIError; any other body is an ErrDecode.
func (c *Client) Do(ctx context.Context, method, path string) Response {
	r := c.send(ctx, method, path)
	if r.Err == nil {
		decodeError(&r)
	}
	return r
}

// send records the answer to a request without interpreting its body.
func (c *Client) send(ctx context.Context, method, path string) Response {
	return c.sendWith(ctx, c.http, method, path)
}

// sendWith is send through the given client.
func (c *Client) sendWith(ctx context.Context, hc *http.Client, method, path string) Response {
	r := Response{Method: method, Path: path}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		r.Err = fmt.Errorf("build request: %w", err)
		return r
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		r.Latency = time.Since(start)
		r.Err = err
		return r
	}
	defer func() { _ = resp.Body.Close() }()
	r.Body, err = io.ReadAll(resp.Body)
	r.Latency = time.Since(start)
	r.Status = resp.StatusCode
	r.Header = resp.Header
	if err != nil {
		r.Err = fmt.Errorf("read body: %w", err)
	}
	return r
}

// decodeError decodes the contract's error body of a 4xx or 5xx answer.
func decodeError(r *Response) {
	if r.Status < 400 {
		return
	}
	var body struct {
		Error *APIError `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err == nil && body.Error != nil {
		r.APIError = body.Error
		return
	}
	r.Err = fmt.Errorf("%w: error body %q", ErrDecode, truncate(r.Body, 200))
}

// decodeOK decodes a 200 body into v, recording a mismatch in r.Err.
func decodeOK(r *Response, v any) {
	if r.Err != nil || r.Status != http.StatusOK {
		return
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.Err = fmt.Errorf("%w: %w", ErrDecode, err)
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
