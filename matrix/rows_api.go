package matrix

import (
	"net/http"
	"strconv"

	"github.com/faultline/faultline/contract"
)

// apiRows hold the HTTP API to its contract with every dependency healthy: a page of the
// list, and each kind of bad request answered with its status and error code, never a 500.
func apiRows() []Row {
	refused := func(status int, code string, headers ...HeaderExpectation) Expected {
		e := untouched()
		e.Status, e.ErrorCode, e.Headers = status, code, headers
		return e
	}
	healthy := given(up(), up(), up(), CacheFresh)
	get := func(path string) Request { return Request{Method: http.MethodGet, Path: path, Repeat: 1} }
	badRequest := func(id, path, title, desc string) Row {
		return Row{
			ID: id, Group: GroupAPI, Title: title, Description: desc,
			Given: healthy, Request: get(path),
			Expected: refused(http.StatusBadRequest, "invalid_parameter"),
			SLA:      SLA{Staleness: notServed("the request is refused"), Alerts: alerts(AlertNone)},
		}
	}
	return []Row{
		{
			ID: "api.list.page", Group: GroupAPI,
			Title: "A page of the list: limit and offset select chats in id order",
			Description: "limit=1&offset=1 answers exactly the second chat by id, beta, from its fresh cache entry, and " +
				"the request is counted in http_requests_total and http_request_duration_seconds under its route.",
			Given:   healthy,
			Request: get(contract.PathList + "?limit=1&offset=1"),
			Expected: Expected{
				Status:  http.StatusOK,
				Chats:   []ChatExpectation{chat(betaID, SourceCache, OriginCache)},
				Latency: LatencyBound{P95: singleBound, Max: singleBound},
				Metrics: append(quietMetrics(),
					metric(MetricHTTPRequests, labels("method", http.MethodGet, "route", contract.PathList, "status", "200"), Exactly(1)),
					metric(MetricHTTPDuration+"_count", labels("method", http.MethodGet, "route", contract.PathList), Exactly(1))),
				Logs:       quietLogs(),
				Stores:     storesAll(StoreUnchanged),
				CacheReads: oneCacheRead(1),
				MaxCalls:   []MaxCallExpectation{maxCalls(0, None())},
				Within:     untouched().Within, Hold: hold,
			},
			SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		},
		badRequest("api.list.bad-limit", contract.PathList+"?limit=0",
			"A list with limit=0: 400 invalid_parameter",
			"limit must be 1..1000; 0 is refused with 400 invalid_parameter, not clamped and not a 500."),
		badRequest("api.list.unknown-parameter", contract.PathList+"?sort=name",
			"A list with a parameter the API does not know: 400 invalid_parameter",
			"Any parameter but limit and offset is refused, so a client's typo is not silently ignored."),
		badRequest("api.get.bad-id", "/chats/abc",
			"GET /chats/abc: 400 invalid_parameter",
			"A chat id must be a positive 64-bit integer; anything else is refused before any store is read."),
		{
			ID: "api.get.unknown", Group: GroupAPI,
			Title:       "GET of a chat that does not exist: 404 not_found",
			Description: "An id no chat has is answered 404 not_found; no store but the database is consulted, MAX is not called.",
			Given:       healthy,
			Request:     get(contract.PathChat(99)),
			Expected:    refused(http.StatusNotFound, "not_found"),
			SLA:         SLA{Staleness: notServed("there is no such chat"), Alerts: alerts(AlertNone)},
		},
		{
			ID: "api.route-not-found", Group: GroupAPI,
			Title:       "An unknown path: 404 route_not_found",
			Description: "The router answers a path the API does not have with 404 route_not_found, as a JSON error body.",
			Given:       healthy,
			Request:     get("/chats/" + strconv.Itoa(1) + "/members"),
			Expected:    refused(http.StatusNotFound, "route_not_found"),
			SLA:         SLA{Staleness: notServed("there is no such route"), Alerts: alerts(AlertNone)},
		},
		{
			ID: "api.method-not-allowed", Group: GroupAPI,
			Title:       "DELETE /chats/all: 405 method_not_allowed with Allow",
			Description: "A method the route does not serve is answered 405 method_not_allowed, and Allow names the ones it does.",
			Given:       healthy,
			Request:     Request{Method: http.MethodDelete, Path: contract.PathList, Repeat: 1},
			Expected:    refused(http.StatusMethodNotAllowed, "method_not_allowed", HeaderExpectation{Name: "Allow", Present: true}),
			SLA:         SLA{Staleness: notServed("the request is refused"), Alerts: alerts(AlertNone)},
		},
	}
}
