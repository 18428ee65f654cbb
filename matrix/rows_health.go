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
		{"all-up", "everything up", up(), up(), up(), 200, HealthHealthy, map[Dependency]string{Postgres: h, Redis: h, MaxAPI: h}, alerts(AlertNone), nil, ""},
		{"redis-down", "Redis refuses connections", up(), down(), up(), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: u, MaxAPI: h}, alerts(AlertCacheDown), nil, ""},
		{"redis-blackhole", "Redis never answers", up(), faultOf(FaultBlackhole), up(), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: u, MaxAPI: h}, alerts(AlertCacheDown), nil, ""},
		{"max-down", "MAX refuses connections", up(), up(), down(), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u}, alerts(AlertMaxAPIDown), nil, ""},
		{"max-hang", "MAX never answers", up(), up(), faultOf(FaultHang), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u}, alerts(AlertMaxAPIDown),
			alerts(AlertMaxAPIDown), "without chat traffic the service learns of a hanging MAX only from its health probe, " +
				"MAX_HEALTH_INTERVAL after its last call plus MAX_API_TIMEOUT: longer than the replay's samples last"},
		{"max-401", "MAX rejects the token", up(), up(), faultOf(FaultUnauthorized), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u},
			alerts(AlertMaxAPIDown, AlertMaxAPIUnauthorized), alerts(AlertMaxAPIUnauthorized),
			"without chat traffic the only 401s are the health probe's, one per MAX_HEALTH_INTERVAL: longer than the alert's 2m window once compressed"},
		{"postgres-down", "PostgreSQL refuses connections", down(), up(), up(), 503, HealthUnhealthy, map[Dependency]string{Postgres: u, Redis: h, MaxAPI: h}, alerts(AlertDatabaseUnavailable), nil, ""},
		{"postgres-slow", "PostgreSQL answers after 3s", latency(3 * time.Second), up(), up(), 503, HealthUnhealthy, map[Dependency]string{Postgres: u, Redis: h, MaxAPI: h}, alerts(AlertDatabaseUnavailable), nil, ""},
		{"all-down", "every dependency refuses connections", down(), down(), down(), 503, HealthUnhealthy, map[Dependency]string{Postgres: u, Redis: u, MaxAPI: u},
			alerts(AlertDatabaseUnavailable, AlertCacheDown, AlertMaxAPIDown), nil, ""},
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
	return rows
}
