package matrix

import (
	"net/http"
	"time"
)

// raceRows are the racing writers: a store already holding a newer observation than the
// refresh brings, as when another replica refreshed the chat later or a slow MAX answer lost
// the race. Nothing may be overwritten with the older value, and the newer one is served.
func raceRows() []Row {
	seed := seed(CacheFresh)
	// Another replica, whose observation is a minute newer than this refresh can be, wrote
	// alpha to both stores.
	seed.Chats[0].DB = Stored{Count: 10, Age: -time.Minute}
	seed.Chats[0].Cache = &Stored{Count: 11, Age: -30 * time.Second}
	return []Row{{
		ID: "refresh.newer-in-stores", Group: GroupRefresh,
		Title: "POST refresh, MAX up, both stores already newer: nothing overwritten, the newer count served",
		Description: "The database and Redis hold an observation newer than the one MAX answers now (another replica " +
			"refreshed alpha later). The refresh succeeds at MAX but writes neither store, and the response carries " +
			"the database's newer count (source database), never MAX's older one.",
		Given:   Given{Postgres: up(), Redis: up(), MaxAPI: up(), Cache: CacheFresh, Seed: seed},
		Request: Request{Method: http.MethodPost, Path: refreshPath(alphaID), Repeat: 1},
		Expected: Expected{
			Status:   http.StatusOK,
			Chats:    []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase)},
			Latency:  LatencyBound{P95: syncMaxBound, Max: syncMaxBound},
			Metrics:  quietMetrics(),
			Logs:     quietLogs(),
			Stores:   storesAll(StoreUnchanged),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, None())},
			Within:   2 * time.Second, Hold: hold,
		},
		SLA: SLA{Staleness: Staleness{Kind: StalenessBounded, Max: 0, Note: "the newer of MAX's answer and the stores"},
			Alerts: alerts(AlertNone)},
	}}
}
