package matrix

import (
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/contract"
)

// databaseUnavailable is what list and get answer while PostgreSQL fails.
func databaseUnavailable(req Request) Expected {
	route := contract.PathList
	if req.Path != contract.PathList {
		route = "/chats/{id}"
	}
	return Expected{
		Status:    http.StatusServiceUnavailable,
		ErrorCode: "database_unavailable",
		Headers: []HeaderExpectation{{Name: RetryAfterHeader, Present: true},
			{Name: RetryAfterHeader, Present: true, Value: "1", Reference: true}},
		Latency:   LatencyBound{P95: databaseP95, Max: databaseMax},
		WarmUpMax: warmUpBound(req, databaseWarmUpMax),
		Metrics: []MetricExpectation{
			metric(MetricMaxErrors, nil, None()),
			refMetric(MetricFallback, nil, None()),
			measured(refMetric(MetricHTTPRequests, labels("route", route, "status", "503"), Exactly(req.Repeat))),
		},
		Logs: []LogExpectation{
			refLogged(LevelWarn, LogFallback, nil, None()),
			{Level: LevelInfo, Msg: LogHTTPRequest, Attrs: labels("route", route, "status", "503"), Count: AtLeast(req.Repeat),
				Measured: true, Reference: true},
		},
		Stores:   storesAll(StoreUnchanged),
		MaxCalls: []MaxCallExpectation{maxCalls(0, None())},
		Health: &HealthExpectation{Status: http.StatusServiceUnavailable, Service: HealthUnhealthy,
			Dependencies: map[Dependency]string{Postgres: HealthUnhealthy, Redis: HealthHealthy}},
		Probes: []ProbeExpectation{{Method: http.MethodGet, Path: contract.PathReadyz, Status: http.StatusServiceUnavailable},
			{Method: http.MethodGet, Path: contract.PathLivez, Status: http.StatusOK}},
		Within: eventually,
	}
}

func postgresRows() []Row {
	get := Request{Method: http.MethodGet, Path: fmt.Sprintf("/chats/%d", alphaID), Repeat: 10}
	type pg struct {
		id, what string
		fault    Fault
		req      Request
	}
	slowList := list(10)
	slowList.WarmUp = 6
	cases := []pg{
		{"postgres-down.list", "PostgreSQL refuses connections", down(), list(10)},
		{"postgres-down.get", "PostgreSQL refuses connections", down(), get},
		{"postgres-slow.list", "PostgreSQL answers after 3s, beyond DATABASE_TIMEOUT", latency(3 * time.Second), slowList},
		{"postgres-blackhole.list", "PostgreSQL accepts connections and never answers", faultOf(FaultBlackhole), slowList},
	}
	var rows []Row
	for _, c := range cases {
		desc := fmt.Sprintf("%s. %s answers 503 database_unavailable with Retry-After, quickly: within DATABASE_TIMEOUT, "+
			"and far below it once repeated failures short-circuit the database. /health/detailed and /readyz answer 503, "+
			"/livez 200: the process is alive and recovers by itself. No participant data is served, so no fallback is counted.",
			c.what, c.req.Method+" "+c.req.Path)
		if c.req.WarmUp > 0 {
			desc += fmt.Sprintf(" %d warm-up requests, each paying the deadline, open the breaker first.", c.req.WarmUp)
		}
		rows = append(rows, Row{
			ID: c.id, Group: GroupPostgres,
			Title:       c.what + ": fast 503 with Retry-After, not ready, alive",
			Description: desc,
			Given:       given(c.fault, up(), up(), CacheFresh),
			Request:     c.req,
			Expected:    databaseUnavailable(c.req),
			SLA:         SLA{Staleness: notServed("requests fail with 503 until the database answers"), Alerts: alerts(AlertDatabaseUnavailable)},
		})
	}
	return rows
}
