package matrix

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/faultline/faultline/contract"
)

func healthRows() []Row {
	type hc struct {
		slug       string
		what       string
		pg, rd, mx Fault
		status     int
		service    string
		deps       map[Dependency]string
		alerts     []Alert
		// notReplayed alerts cannot be shown by the replay, for why.
		notReplayed []Alert
		why         string
	}
	h, u := HealthHealthy, HealthUnhealthy
	cases := []hc{
		{
			slug: "all-up", what: "everything up",
			pg: up(), rd: up(), mx: up(),
			status: 200, service: HealthHealthy, deps: map[Dependency]string{Postgres: h, Redis: h, MaxAPI: h},
			alerts: alerts(AlertNone),
		},
		{
			slug: "redis-down", what: "Redis refuses connections",
			pg: up(), rd: down(), mx: up(),
			status: 200, service: HealthDegraded, deps: map[Dependency]string{Postgres: h, Redis: u, MaxAPI: h},
			alerts: alerts(AlertCacheDown),
		},
		{
			slug: "redis-blackhole", what: "Redis never answers",
			pg: up(), rd: faultOf(FaultBlackhole), mx: up(),
			status: 200, service: HealthDegraded, deps: map[Dependency]string{Postgres: h, Redis: u, MaxAPI: h},
			alerts: alerts(AlertCacheDown),
		},
		{
			slug: "max-down", what: "MAX refuses connections",
			pg: up(), rd: up(), mx: down(),
			status: 200, service: HealthDegraded, deps: map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u},
			alerts: alerts(AlertMaxAPIDown),
		},
		{
			slug: "max-hang", what: "MAX never answers",
			pg: up(), rd: up(), mx: faultOf(FaultHang),
			status: 200, service: HealthDegraded, deps: map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u},
			alerts:      alerts(AlertMaxAPIDown),
			notReplayed: alerts(AlertMaxAPIDown),
			why:         "without chat traffic the service learns of a hanging MAX only from its health probe, MAX_HEALTH_INTERVAL after its last call plus MAX_API_TIMEOUT: longer than the replay's samples last",
		},
		{
			slug: "max-401", what: "MAX rejects the token",
			pg: up(), rd: up(), mx: faultOf(FaultUnauthorized),
			status: 200, service: HealthDegraded, deps: map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u},
			alerts:      alerts(AlertMaxAPIDown, AlertMaxAPIUnauthorized),
			notReplayed: alerts(AlertMaxAPIUnauthorized),
			why:         "without chat traffic the only 401s are the health probe's, one per MAX_HEALTH_INTERVAL: longer than the alert's 2m window once compressed",
		},
		{
			slug: "postgres-down", what: "PostgreSQL refuses connections",
			pg: down(), rd: up(), mx: up(),
			status: 503, service: HealthUnhealthy, deps: map[Dependency]string{Postgres: u, Redis: h, MaxAPI: h},
			alerts: alerts(AlertDatabaseUnavailable),
		},
		{
			slug: "postgres-slow", what: "PostgreSQL answers after 3s",
			pg: latency(3 * time.Second), rd: up(), mx: up(),
			status: 503, service: HealthUnhealthy, deps: map[Dependency]string{Postgres: u, Redis: h, MaxAPI: h},
			alerts: alerts(AlertDatabaseUnavailable),
		},
		{
			slug: "all-down", what: "every dependency refuses connections",
			pg: down(), rd: down(), mx: down(),
			status: 503, service: HealthUnhealthy, deps: map[Dependency]string{Postgres: u, Redis: u, MaxAPI: u},
			alerts: alerts(AlertDatabaseUnavailable, AlertCacheDown, AlertMaxAPIDown),
		},
	}
	var rows []Row
	for _, c := range cases {
		ready := http.StatusOK
		if c.pg.Active() {
			ready = http.StatusServiceUnavailable
		}
		desc := fmt.Sprintf("With %s, /health/detailed settles on service %q and the per-dependency states below, answering %d "+
			"(503 only when the database is unhealthy). It never waits for a failing dependency beyond its deadline and, however "+
			"often it is asked, calls MAX's /me at most once per MAX_HEALTH_INTERVAL: ten requests in a row cause at most two calls. "+
			"/readyz follows the database, /livez is always 200.", c.what, c.service, c.status)
		if c.mx.Active() {
			desc += " max_api may read unknown until the first probe; it must settle on unhealthy."
		}
		rows = append(rows, Row{
			ID: "health." + c.slug, Group: GroupHealth,
			Title:       "/health/detailed, " + c.what + ": " + c.service,
			Description: desc,
			Given:       given(c.pg, c.rd, c.mx, CacheFresh),
			Request:     Request{Method: http.MethodGet, Path: contract.PathHealthDetailed, Repeat: 10},
			Expected: Expected{
				Status:  c.status,
				Latency: LatencyBound{P95: singleBound, Max: singleBound},
				Metrics: []MetricExpectation{
					metric(MetricFallback, nil, None()),
					measured(refMetric(MetricHTTPRequests, labels("route", "/health/detailed", "status", strconv.Itoa(c.status)), Exactly(10))),
				},
				Logs:   []LogExpectation{logged(LevelWarn, LogFallback, nil, None())},
				Stores: storesAll(StoreUnchanged),
				MaxCalls: []MaxCallExpectation{maxCalls(0, None()),
					{Endpoint: MaxMe, Count: AtMost(2), Measured: true}},
				Health: &HealthExpectation{Status: c.status, Service: c.service, Dependencies: c.deps},
				Probes: []ProbeExpectation{{Method: http.MethodGet, Path: contract.PathReadyz, Status: ready},
					{Method: http.MethodGet, Path: contract.PathLivez, Status: http.StatusOK}},
				Within: eventually,
			},
			SLA: SLA{Staleness: notServed("the health endpoint serves no participant data"), Alerts: c.alerts,
				NotReplayed: c.notReplayed, NotReplayedWhy: c.why},
		})
	}
	return append(rows, probeFloodRow())
}

// probeFloodRow is an orchestrator or a monitoring system asking for health far more often
// than the dependencies' state changes.
func probeFloodRow() Row {
	const n = 20
	deps := map[Dependency]string{Postgres: HealthHealthy, Redis: HealthHealthy, MaxAPI: HealthHealthy}
	return Row{
		ID: "health.probe-flood", Group: GroupHealth,
		Title: "/health/detailed asked 20 times back to back, everything up: Redis pinged at most once per HEALTH_CACHE_TTL",
		Description: "Twenty probes in a row, well within one HEALTH_CACHE_TTL (1s). The health results are reused for the " +
			"TTL, so Redis sees at most three PINGs however many probes arrive: one for the probes, one more if the TTL " +
			"ends while they run, and one of the background health check. A service that pings per probe sends twenty: " +
			"a probe flood would become a load on the dependencies.",
		Given:   given(up(), up(), up(), CacheFresh),
		Request: Request{Method: http.MethodGet, Path: contract.PathHealthDetailed, Repeat: n},
		Expected: Expected{
			Status:  http.StatusOK,
			Latency: LatencyBound{P95: singleBound, Max: singleBound},
			Metrics: []MetricExpectation{
				metric(MetricFallback, nil, None()),
				measured(refMetric(MetricHTTPRequests, labels("route", contract.PathHealthDetailed, "status", "200"), Exactly(n))),
			},
			Logs:       []LogExpectation{logged(LevelWarn, LogFallback, nil, None())},
			Stores:     storesAll(StoreUnchanged),
			CachePings: bound(AtMost(3)),
			MaxCalls:   []MaxCallExpectation{maxCalls(0, None()), {Endpoint: MaxMe, Count: AtMost(2), Measured: true}},
			Health:     &HealthExpectation{Status: http.StatusOK, Service: HealthHealthy, Dependencies: deps},
			Probes: []ProbeExpectation{{Method: http.MethodGet, Path: contract.PathReadyz, Status: http.StatusOK},
				{Method: http.MethodGet, Path: contract.PathLivez, Status: http.StatusOK}},
			Within: eventually,
		},
		SLA:       SLA{Staleness: notServed("the health endpoint serves no participant data"), Alerts: alerts(AlertNone)},
		Reference: true,
	}
}
