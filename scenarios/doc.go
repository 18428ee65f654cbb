// Package scenarios is the Ginkgo suite that runs the behaviour matrix against the service
// under test: the only place where the rows of package matrix meet the environment of
// package chaos. It holds one DescribeTable entry per matrix.Rows() row, labelled
// matrix.Labels(row), so label filters select rows:
//
//	row:<id>              one row, e.g. row:redis-down.max-up.cache-fresh
//	group:<group>         cache, max, redis, refresh, postgres, health, recovery
//	dep:<dependency>      postgres, redis, max_api (the dependencies with an active fault)
//	fault:<kind>          down, blackhole, latency, ... ; fault:none when nothing is broken
//	scope:reference       rows only the reference service promises
//
// One chaos environment serves the whole suite process: started in BeforeSuite with
// matrix.BaseEnv(), closed in AfterSuite (which Ginkgo also runs on an interrupt), its
// containers always terminated. Each row runs as package matrix documents it
// (scenarios/internal/rowrun does the steps), then its alerts are replayed (a second pass
// over the same fault, sampling /metrics; see docs/alerts.md), and the observation is
// attached with AddReportEntry(matrix.ObservationEntry, obs). The spec fails with
// matrix.Compare's mismatches.
//
// # Running it
//
// `make chaos` runs everything and applies the release gate; `make scenario ROW=<id>` or
// `make scenario LABELS='dep:redis'` run a part. Underneath, and stable for other tools
// such as the self-test:
//
//	go test ./scenarios -count=1 -timeout 30m \
//	    -ginkgo.label-filter '<expr>' \
//	    -ginkgo.json-report /abs/dir/report.json -ginkgo.junit-report /abs/dir/junit.xml
//
// (go test runs the suite in the scenarios directory, so report paths should be absolute.)
// The suite itself writes matrix.json, matrix.md and matrix.html with a ReportAfterSuite.
//
// Environment:
//
//	MATRIX_OUT            directory for matrix.json, matrix.md, matrix.html (default: out/ at
//	                      the module root; a relative path is taken from the module root)
//	CHAOS_SUT_CMD         run this command as the service instead of building ./service/cmd/chatd
//	CHAOS_SUT_ENV         KEY=VALUE settings for every start of the service, separated by
//	                      spaces or commas, applied after matrix.BaseEnv(), e.g.
//	                      CHAOS_SUT_ENV='PARTICIPANTS_CACHE_ERROR_POLICY=fail'
//	CHAOS_RACE, CI        build the service with -race
//	MATRIX_CONTRACT_ONLY  1: the service is another implementation of the contract; the
//	                      reference service's own promises are not judged. Run it with the
//	                      label filter '!scope:reference' and gate it with
//	                      `matrix gate -contract-only` (make does both); the reference gate
//	                      refuses a report judged this way
//	MATRIX_ALERTS         0: skip the alert replay (rows then show their alerts as unknown)
//
// Secrets of the environment (the MAX token, the database password) are redacted from
// every observation before it is attached, so no report file holds them.
package scenarios
