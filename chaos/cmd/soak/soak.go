package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

const (
	// recoveryBound is the SLA's bound on recovery after a lifted fault (docs/SLA.md).
	recoveryBound = matrix.RecoverWithin
	// epochEvery is how often MAX's counts change.
	epochEvery = 5 * time.Second
	// staleAfter is the service's PARTICIPANTS_STALE_AFTER in the soak: short, so counts
	// expire and are refreshed all the time.
	staleAfter = 30 * time.Second
	// requestTimeout bounds every request of the load: an answer later than this is none.
	requestTimeout = 5 * time.Second
	// maxTimeout is the contract's MAX_API_TIMEOUT: an observation is stamped at most this
	// long after its call reached MAX (plus the slowest MAX fault's proxy delay).
	maxTimeout = 2 * time.Second
	// keepPerInvariant bounds the violations kept as evidence per invariant; all are counted.
	keepPerInvariant = 50
	// baselineTime is the pause in the load at the end of the warm-up, when the resources
	// the end is compared with are measured.
	baselineTime = 3 * time.Second
	// racePairs is how many times a second one hot chat is refreshed on every replica at once.
	racePairs = 4
	// maxPerSecond is MAX's quota per bot token.
	maxPerSecond = 30
)

// Invariants, by the ids soak.json counts them under.
const (
	invResponse  = "response"
	invData      = "data"
	invSource    = "source"
	invStore     = "store"
	invRecovery  = "recovery"
	invResources = "resources"
	invQueue     = "queue"
	invQuota     = "quota"
	invHarness   = "harness"
)

// invariants are every invariant the soak checks, in report order, with what each holds.
var invariants = []struct{ id, text string }{
	{invResponse, "every answer follows the contract for the faults active while it was given: 200 unless the database is unavailable, 503 database_unavailable with Retry-After then, never another status, never no answer"},
	{invData, "every served count and its participants_updated_at are an observation that happened: a seeded one, or MAX's count of the time it was observed"},
	{invSource, "every count served with source database or cache is one that store held while the request was answered: not a version it had already replaced (or Redis had expired), nor one it never held"},
	{invStore, "no store goes backwards: no write replaces a chat's observation in PostgreSQL or Redis with an older one"},
	{invRecovery, "after the last fault lifts, every replica reports healthy within the SLA's recovery bound"},
	{invResources, "goroutines, open file descriptors and resident memory of every replica at the end are within a small margin of before the first fault"},
	{invQueue, "the refresh queue is empty at the end"},
	{invQuota, "MAX never sees more calls than its quota in any second, nor refuses one for it"},
	{invHarness, "the harness applied and lifted every fault of the schedule and read every MAX call"},
}

// appliedFault is one fault of the schedule as it was really held.
type appliedFault struct {
	Kind  string           `json:"kind"`
	Dep   chaos.Dependency `json:"dependency"`
	Fault string           `json:"fault"`
	// From and To are offsets from the run's start; To is zero while held.
	From time.Duration `json:"from"`
	To   time.Duration `json:"to"`
	Err  string        `json:"error,omitempty"`

	databaseDown bool
}

type violation struct {
	At        time.Duration `json:"at"`
	Invariant string        `json:"invariant"`
	Faults    []string      `json:"faults_active"`
	Evidence  string        `json:"evidence"`
}

// recovery is the time from a lifted fault, with no other fault left, until every replica
// answered /health/detailed 200 "healthy".
type recovery struct {
	After       string        `json:"after"`
	At          time.Duration `json:"at"`
	Took        time.Duration `json:"took,omitempty"`
	Interrupted bool          `json:"interrupted,omitempty"`
	Exceeded    bool          `json:"exceeded,omitempty"`
}

// second is one second of the run.
type second struct {
	requests, errors int
	maxCalls         int
	latencies        []time.Duration
	goroutines, fds  int
	rss              int64
	sampled          bool
}

type soak struct {
	env   *chaos.Env
	cfg   config
	plan  []window
	truth *truth
	rng   *rand.Rand
	start time.Time
	chats []int64

	mu          sync.Mutex
	applied     []*appliedFault
	violations  []violation
	counts      map[string]int
	seconds     map[int]*second
	recoveries  []recovery
	statuses    map[requestKind]map[int]int
	maxCalls    []time.Time
	maxRefused  int
	maxPeak     int // most calls MAX saw in any second, from checkQuota
	lastSeq     int64
	resources   []resourceUse
	queueNote   string
	monitorLost int          // times the MONITOR feed was lost (Redis stopped or restarted)
	monitorErr  string       // why, the last time
	cursor      *writeCursor // the write log read so far; only the database poll touches it
	counters    map[string]float64

	// broken is closed once every invariant of cfg.StopWhen has a violation.
	broken     chan struct{}
	brokenOnce sync.Once
}

func newSoak(ctx context.Context, env *chaos.Env, cfg config) (*soak, error) {
	s := &soak{
		env: env, cfg: cfg,
		truth:    newTruth(100*time.Millisecond, maxTimeout+time.Second),
		rng:      rand.New(rand.NewPCG(cfg.Seed, 0x10ad)), //nolint:gosec // G404: the load repeated from its seed, not a secret
		counts:   map[string]int{},
		seconds:  map[int]*second{},
		statuses: map[requestKind]map[int]int{},
		cursor:   newWriteCursor(),
		broken:   make(chan struct{}),
	}
	s.plan = newSchedule(cfg.Seed, catalog(), cfg.WarmUp, cfg.Duration-cfg.Tail)

	now := time.Now().UTC()
	s.truth.beginEpoch(now)
	rows := make([]chaos.ChatRow, cfg.Chats)
	entries := make([]chaos.CacheEntry, cfg.Chats)
	maxChats := make([]maxapi.Chat, cfg.Chats)
	for i := range cfg.Chats {
		id := int64(i + 1)
		maxID := maxChatID(id)
		// Database and cache hold older counts than MAX, the cache's stale: the first lists
		// queue refreshes.
		rows[i] = chaos.ChatRow{ID: id, Name: fmt.Sprintf("chat %d", id), MaxChatID: maxID, Count: int(id), UpdatedAt: now.Add(-3 * time.Hour).Truncate(time.Microsecond)}
		entries[i] = chaos.CacheEntry{ChatID: id, Count: int(id) + 1, UpdatedAt: now.Add(-2 * time.Hour).Truncate(time.Microsecond), TTL: 24 * time.Hour}
		maxChats[i] = maxapi.Chat{ID: maxID, Title: rows[i].Name, ParticipantsCount: maxCount(id, 0)}
		s.truth.seed(id, observation{Count: rows[i].Count, At: rows[i].UpdatedAt})
		s.truth.seed(id, observation{Count: entries[i].Count, At: entries[i].UpdatedAt})
		s.chats = append(s.chats, id)
	}
	err := env.Reset(ctx, chaos.WithChats(rows...), chaos.WithCache(entries...), chaos.WithMaxChats(maxChats...),
		chaos.WithSUTEnv(fmt.Sprintf("REPLICAS=%d", cfg.Replicas), "PARTICIPANTS_STALE_AFTER="+staleAfter.String()))
	if err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	if err := env.StartReplicas(ctx, cfg.Replicas-1); err != nil {
		return nil, err
	}
	// MAX's own limit: a call beyond it is answered 429.
	env.Max().SetRateLimit(maxPerSecond)
	if err := installTriggers(ctx, env, s.truth.db); err != nil {
		return nil, err
	}
	return s, nil
}

// maxChatID is the MAX chat that chat id is linked to.
func maxChatID(id int64) int64 { return -(1000 + id) }

// offset is t on the run's clock.
func (s *soak) offset(t time.Time) time.Duration { return t.Sub(s.start) }

// heldDuring reports whether f was in place at some time of [from, to].
func (f *appliedFault) heldDuring(from, to time.Duration) bool {
	return f.Err == "" && f.From <= to && (f.To == 0 || f.To >= from)
}

// activeAt names the faults held at offset at.
func (s *soak) activeAt(at time.Duration) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, f := range s.applied {
		if f.heldDuring(at, at) {
			out = append(out, f.Fault)
		}
	}
	return out
}

// databaseDown reports whether a fault that makes the database unavailable held during
// [from, to], or was lifted less than the recovery bound before from.
func (s *soak) databaseDown(from, to time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.applied {
		if f.databaseDown && f.heldDuring(from-recoveryBound, to) {
			return true
		}
	}
	return false
}

func (s *soak) violate(at time.Duration, inv, evidence string) {
	faults := s.activeAt(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[inv]++
	if s.counts[inv] <= keepPerInvariant {
		s.violations = append(s.violations, violation{At: at, Invariant: inv, Faults: faults, Evidence: evidence})
	}
	s.checkBrokenLocked()
}

// knownInvariant reports whether name is one of the soak's invariants.
func knownInvariant(name string) bool {
	return slices.ContainsFunc(invariants, func(i struct{ id, text string }) bool { return i.id == name })
}

// checkBrokenLocked closes broken once every invariant the run stops on has a violation.
// s.mu is held.
func (s *soak) checkBrokenLocked() {
	if len(s.cfg.StopWhen) == 0 {
		return
	}
	for _, inv := range s.cfg.StopWhen {
		if s.counts[inv] == 0 {
			return
		}
	}
	s.brokenOnce.Do(func() { close(s.broken) })
}

func (s *soak) bucket(at time.Duration) *second {
	k := int(at / time.Second)
	b := s.seconds[k]
	if b == nil {
		b = &second{}
		s.seconds[k] = b
	}
	return b
}

// run is the soak: load from the start, faults by the schedule after the warm-up, checks
// throughout, the end checks after the quiet tail.
func (s *soak) run(ctx context.Context) (*report, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.start = time.Now()
	end := s.start.Add(s.cfg.Duration)
	// runCtx ends the load and the schedule early once every invariant of -stop-when is
	// broken (the schedule lifts the faults it holds).
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go func() {
		select {
		case <-s.broken:
			stopRun()
		case <-runCtx.Done():
		}
	}()

	var wg sync.WaitGroup
	wg.Go(func() { s.bumpEpochs(ctx) })
	wg.Go(func() { s.watchDatabase(ctx) })
	wg.Go(func() { s.followCache(ctx) })
	wg.Go(func() { s.watchMax(ctx) })
	wg.Go(func() { s.sample(ctx) })

	// The load's own transport: its connections are closed before each measurement of the
	// replicas' resources, so the server's goroutines and sockets for them are not counted.
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, DialContext: (&net.Dialer{Timeout: requestTimeout}).DialContext}
	client := &http.Client{Transport: tr, Timeout: requestTimeout}
	targeter := s.targeter()
	// An attacker runs one attack: one for the warm-up, one for the rest.
	newAttacker := func() *vegeta.Attacker { return vegeta.NewAttacker(vegeta.Client(client), vegeta.MaxWorkers(256)) }
	rate := vegeta.Rate{Freq: s.cfg.Rate, Per: time.Second}
	load := func(a *vegeta.Attacker, p vegeta.Pacer, until time.Time) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-runCtx.Done():
				a.Stop()
			case <-done:
			}
		}()
		for r := range a.Attack(targeter, p, time.Until(until), "soak") {
			s.judgeResult(r)
		}
		tr.CloseIdleConnections()
	}

	// The warm-up, ramping the load up from a tenth as traffic reaches a service that just
	// started (its caches and pools fill before the whole rate arrives); then, the load
	// paused, the resources the end is compared with.
	warm := s.cfg.WarmUp - baselineTime
	ramp := vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: max(1, s.cfg.Rate/10), Per: time.Second},
		Slope: 0.9 * float64(s.cfg.Rate) / warm.Seconds()}
	load(newAttacker(), ramp, s.start.Add(warm))
	if err := sleepUntil(ctx, time.Now().Add(200*time.Millisecond)); err != nil {
		return nil, err
	}
	before := s.resourceSnapshot(ctx)

	attacker := newAttacker()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		var racers sync.WaitGroup
		racers.Go(func() { s.raceWriters(runCtx, client, end) })
		load(attacker, rate, end)
		racers.Wait()
		tr.CloseIdleConnections()
	}()
	scheduleErr := s.runSchedule(runCtx)
	stoppedEarly := false
	select {
	case <-s.broken:
		stoppedEarly = ctx.Err() == nil
	default:
	}
	if stoppedEarly {
		scheduleErr = nil
	}
	if scheduleErr != nil {
		attacker.Stop()
	}
	<-loadDone
	elapsed := time.Since(s.start)
	if scheduleErr == nil && !stoppedEarly {
		// The load over and its connections closed: the queue drains, then the resources.
		s.checkQueue(ctx)
		s.checkResources(before, s.resourceSnapshot(ctx))
	}
	cancel()
	wg.Wait()
	if scheduleErr != nil {
		return nil, scheduleErr
	}
	// The writes and calls of the last moments.
	s.pollMax()
	if err := s.pollDatabase(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	s.checkQuota()
	rep := s.report(elapsed)
	rep.StoppedEarly = stoppedEarly
	return rep, nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// targeter is the load's mix, drawn from the seed: lists (pages), single chats, POST
// refreshes of the hot chats (every replica races on the same few), and health probes,
// to the replicas in turn.
func (s *soak) targeter() vegeta.Targeter {
	var mu sync.Mutex
	clients := s.env.Clients()
	n := 0
	const page = 50
	return func(t *vegeta.Target) error {
		if t == nil {
			return vegeta.ErrNilTarget
		}
		mu.Lock()
		defer mu.Unlock()
		base := clients[n%len(clients)].URL()
		n++
		method, path := http.MethodGet, ""
		switch p := s.rng.IntN(100); {
		case p < 55:
			pages := (len(s.chats) + page - 1) / page
			path = fmt.Sprintf("/chats/all?limit=%d&offset=%d", page, s.rng.IntN(pages)*page)
		case p < 75:
			path = fmt.Sprintf("/chats/%d", s.chats[s.rng.IntN(len(s.chats))])
		case p < 78:
			method, path = http.MethodPost, fmt.Sprintf("/chats/%d/participants/refresh", s.chats[s.rng.IntN(s.cfg.Hot)])
		case p < 90:
			path = "/health/detailed"
		case p < 95:
			path = "/readyz"
		default:
			path = "/livez"
		}
		*t = vegeta.Target{Method: method, URL: base + path}
		return nil
	}
}

// raceWriters sends, racePairs times a second until end, POST refresh of one hot chat to
// every replica at once: writers racing to store their observations of one chat, each
// answer judged as the load's are.
func (s *soak) raceWriters(ctx context.Context, client *http.Client, end time.Time) {
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	rng := rand.New(rand.NewPCG(s.cfg.Seed, 0x5ace)) //nolint:gosec // G404: the load repeated from its seed, not a secret
	clients := s.env.Clients()
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	every(ctx, time.Second/racePairs, func() {
		id := s.chats[rng.IntN(s.cfg.Hot)]
		for _, c := range clients {
			inFlight.Go(func() { s.judgeResult(post(ctx, client, fmt.Sprintf("%s/chats/%d/participants/refresh", c.URL(), id))) })
		}
	})
}

// post sends one POST and returns it as the load's results are.
func post(ctx context.Context, client *http.Client, rawURL string) *vegeta.Result {
	r := &vegeta.Result{Method: http.MethodPost, URL: rawURL, Timestamp: time.Now()}
	defer func() { r.Latency = time.Since(r.Timestamp) }()
	// rawURL is a replica's, on loopback (chaos.CheckLoopback).
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, rawURL, nil) //nolint:gosec // G704: as above
	if err == nil {
		var resp *http.Response
		if resp, err = client.Do(req); err == nil { //nolint:gosec // G704: as above
			defer resp.Body.Close()
			r.Code, r.Headers = uint16(resp.StatusCode), resp.Header //nolint:gosec // G115: an HTTP status fits
			r.Body, err = io.ReadAll(resp.Body)
		}
	}
	if err != nil {
		r.Code, r.Error = 0, err.Error()
	}
	return r
}

// kindOf is the request kind of a result.
func kindOf(method, rawURL string) requestKind {
	switch {
	case method == http.MethodPost:
		return kindRefresh
	case strings.Contains(rawURL, "/chats/all"):
		return kindList
	case strings.Contains(rawURL, "/health/detailed"):
		return kindHealth
	case strings.Contains(rawURL, "/readyz"):
		return kindReady
	case strings.Contains(rawURL, "/livez"):
		return kindLive
	}
	return kindGet
}

// judgeResult checks one answer of the load and adds it to its second.
func (s *soak) judgeResult(r *vegeta.Result) {
	a := answer{Kind: kindOf(r.Method, r.URL), Start: r.Timestamp, End: r.End(), Status: int(r.Code), Header: r.Headers, Body: r.Body}
	if r.Code == 0 {
		a.Err = r.Error
	}
	from, to := s.offset(a.Start), s.offset(a.End)
	j := judgement{DatabaseDown: s.databaseDown(from, to)}
	problems := judge(a, j, s.truth)
	s.mu.Lock()
	b := s.bucket(from)
	b.requests++
	if a.Status != http.StatusOK {
		b.errors++
	}
	if a.Kind == kindList || a.Kind == kindGet {
		b.latencies = append(b.latencies, r.Latency)
	}
	if s.statuses[a.Kind] == nil {
		s.statuses[a.Kind] = map[int]int{}
	}
	s.statuses[a.Kind][a.Status]++
	s.mu.Unlock()
	for _, p := range problems {
		s.violate(to, p.invariant, fmt.Sprintf("%s %s: %s", r.Method, pathOf(r.URL), p.text))
	}
}

// pathOf is a request URL without its scheme and host.
func pathOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.RequestURI()
}

// bumpEpochs changes MAX's counts every epochEvery. The epoch begins before the counts
// change, so no count is ever answered before its epoch.
func (s *soak) bumpEpochs(ctx context.Context) {
	every(ctx, epochEvery, func() {
		e := s.truth.beginEpoch(time.Now())
		for _, id := range s.chats {
			_ = s.env.Max().UpdateChat(maxChatID(id), func(c *maxapi.Chat) { c.ParticipantsCount = maxCount(id, e) })
		}
	})
}

// runSchedule applies and lifts the schedule's faults at their times. After a lift that
// leaves no fault held it measures the recovery, until the next fault begins.
func (s *soak) runSchedule(ctx context.Context) error {
	type event struct {
		at    time.Duration
		lift  bool
		index int
	}
	var events []event
	for i, w := range s.plan {
		events = append(events, event{w.Start, false, i}, event{w.End, true, i})
	}
	slices.SortStableFunc(events, func(a, b event) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		if a.lift != b.lift {
			if a.lift {
				return -1
			}
			return 1
		}
		return 0
	})
	held := map[int]struct {
		undo chaos.UndoFunc
		rec  *appliedFault
	}{}
	var stopRecovery context.CancelFunc = func() {}
	var recoveries sync.WaitGroup
	defer func() {
		// The last recovery is measured to its end: the quiet tail is as long as its bound.
		if ctx.Err() != nil {
			stopRecovery()
		}
		recoveries.Wait()
		stopRecovery()
		for _, h := range held {
			_ = h.undo(context.WithoutCancel(ctx))
		}
	}()
	for _, ev := range events {
		if err := sleepUntil(ctx, s.start.Add(ev.at)); err != nil {
			return err
		}
		w := s.plan[ev.index]
		if !ev.lift {
			stopRecovery()
			rec := &appliedFault{Kind: w.Kind.Name, Dep: w.Kind.Dep, databaseDown: w.Kind.DatabaseDown}
			f := w.Kind.make()
			rec.Fault = f.String()
			s.mu.Lock()
			rec.From = s.offset(time.Now())
			s.applied = append(s.applied, rec)
			s.mu.Unlock()
			undo, err := s.env.Inject(ctx, f)
			if err != nil {
				s.mu.Lock()
				rec.Err = err.Error()
				rec.To = s.offset(time.Now())
				s.mu.Unlock()
				s.violate(rec.From, invHarness, fmt.Sprintf("apply %s: %v", rec.Fault, err))
				continue
			}
			held[ev.index] = struct {
				undo chaos.UndoFunc
				rec  *appliedFault
			}{undo, rec}
			continue
		}
		h, ok := held[ev.index]
		if !ok {
			continue
		}
		delete(held, ev.index)
		err := h.undo(ctx)
		s.mu.Lock()
		h.rec.To = s.offset(time.Now())
		s.mu.Unlock()
		if err != nil {
			s.violate(h.rec.To, invHarness, fmt.Sprintf("lift %s: %v", h.rec.Fault, err))
		}
		if len(held) == 0 {
			rctx, cancel := context.WithCancel(ctx)
			stopRecovery = cancel
			rec := h.rec
			recoveries.Go(func() { s.measureRecovery(rctx, rec) })
		}
	}
	return nil
}

// measureRecovery polls every replica's /health/detailed from the lift of last until all
// answer 200 "healthy", the recovery bound passes, or ctx ends (the next fault began).
func (s *soak) measureRecovery(ctx context.Context, last *appliedFault) {
	s.mu.Lock()
	r := recovery{After: last.Fault, At: last.To}
	s.mu.Unlock()
	lifted := s.start.Add(r.At)
	var seen string
	for {
		healthy := true
		for i, c := range s.env.Clients() {
			h := c.WithTimeout(time.Second).Health(ctx)
			if h.Status != http.StatusOK || h.Health.Service != "healthy" {
				healthy = false
				seen = fmt.Sprintf("replica %d: %d %v", i, h.Status, h.Health.Dependencies)
				break
			}
		}
		took := time.Since(lifted)
		if healthy {
			r.Took = took
			break
		}
		if took > recoveryBound {
			r.Exceeded, r.Took = true, took
			s.violate(r.At+recoveryBound, invRecovery, fmt.Sprintf("not healthy %s after %s was lifted: %s", recoveryBound, last.Fault, seen))
			break
		}
		if sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) != nil {
			r.Interrupted = true
			break
		}
	}
	s.mu.Lock()
	s.recoveries = append(s.recoveries, r)
	s.mu.Unlock()
}

// pollMax takes MAX's new calls from its journal: every call counts towards the quota, and
// a 429 no fault asked for is MAX refusing a call over it.
func (s *soak) pollMax() {
	calls := s.env.Max().Journal()
	s.mu.Lock()
	defer s.mu.Unlock()
	var refused []maxapi.Call
	for i, c := range calls {
		if c.Seq <= s.lastSeq {
			continue
		}
		if i == 0 && s.lastSeq > 0 && c.Seq > s.lastSeq+1 {
			s.counts[invHarness]++
			s.violations = append(s.violations, violation{At: s.offset(c.Time), Invariant: invHarness,
				Evidence: fmt.Sprintf("MAX's journal dropped calls %d to %d before they were read", s.lastSeq+1, c.Seq-1)})
			s.checkBrokenLocked()
		}
		s.lastSeq = c.Seq
		s.maxCalls = append(s.maxCalls, c.Time)
		if c.Status == http.StatusTooManyRequests && c.FaultID == 0 {
			refused = append(refused, c)
		}
	}
	s.maxRefused += len(refused)
	for _, c := range refused {
		at := s.offset(c.Time)
		s.counts[invQuota]++
		if s.counts[invQuota] <= keepPerInvariant {
			s.violations = append(s.violations, violation{At: at, Invariant: invQuota,
				Evidence: fmt.Sprintf("MAX answered %s %s 429: over its %d a second", c.Method, c.Path, maxPerSecond)})
		}
		s.checkBrokenLocked()
	}
}

func (s *soak) watchMax(ctx context.Context) { every(ctx, time.Second, s.pollMax) }

// checkQuota finds every second in which MAX saw more calls than its quota, each reported
// once: windows [t, t+1s) starting at a call, not overlapping the last one reported. It
// keeps the most calls of any second for the report.
func (s *soak) checkQuota() {
	s.mu.Lock()
	times := slices.Clone(s.maxCalls)
	s.mu.Unlock()
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	j, peak := 0, 0
	defer func() {
		s.mu.Lock()
		s.maxPeak = peak
		s.mu.Unlock()
	}()
	var reportedUntil time.Time
	for i := range times {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		n := i - j + 1
		peak = max(peak, n)
		if n > maxPerSecond && !times[j].Before(reportedUntil) {
			s.violate(s.offset(times[j]), invQuota, fmt.Sprintf("MAX saw %d calls in the second from %s, %s",
				n, s.offset(times[j]).Round(time.Millisecond), spacing(times[j:i+1])))
			reportedUntil = times[j].Add(time.Second)
		}
	}
}

// spacing describes how calls were spread over their second: the gaps between arrivals,
// to tell calls sent too often from calls bunched up on their way.
func spacing(times []time.Time) string {
	if len(times) < 2 {
		return "one call"
	}
	gaps := make([]time.Duration, 0, len(times)-1)
	for k := 1; k < len(times); k++ {
		gaps = append(gaps, times[k].Sub(times[k-1]))
	}
	slices.Sort(gaps)
	under := 0
	for _, g := range gaps {
		if g < 5*time.Millisecond {
			under++
		}
	}
	return fmt.Sprintf("gaps between arrivals %s (shortest) to %s (longest), median %s, %d under 5 ms",
		gaps[0].Round(time.Microsecond), gaps[len(gaps)-1].Round(time.Microsecond), gaps[len(gaps)/2].Round(time.Microsecond), under)
}
