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
// Each suite process (Ginkgo runs several with --procs) starts its own chaos environment with
// matrix.BaseEnv(), and a second one for the alert replay, in SynchronizedBeforeSuite: the
// first process builds the service and draws the credentials once for all. AfterSuite (which
// Ginkgo also runs on an interrupt) closes them. Each row runs as package matrix documents it
// (scenarios/internal/rowrun does the steps) while its alerts are replayed in the second
// environment (sampling /metrics under the same fault; see docs/alerts.md), and the
// observation is attached with AddReportEntry(matrix.ObservationEntry, obs). The spec fails
// with matrix.Compare's mismatches.
//
// # Running it
//
// `make chaos` runs everything and applies the release gate; `make scenario ROW=<id>` or
// `make scenario LABELS='dep:redis'` run a part. Both go through scenarios/cmd/chaos, which
// selects the rows (a shard, a row, a label filter), runs
//
//	go tool ginkgo run --procs N --label-filter '<rows>' \
//	    --output-dir <out> --json-report report.json ./scenarios
//
// with MATRIX_OUT=<out> and MATRIX_PROGRESS=<out>/progress.log, and prints a line per
// finished row. The suite itself writes matrix.json, matrix.md, matrix.html and junit.xml (one
// test case per row) with a ReportAfterSuite.
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
//	MATRIX_PROGRESS       a file each process appends a line to per finished row
//	MATRIX_ROOT           the module root (default: the first directory with a go.mod above
//	                      the working directory); the runner sets it, since a precompiled
//	                      suite runs in its own directory
//	CHAOS_BACKEND         docker, process or auto: where PostgreSQL and Redis run
//
// Secrets of the environment (the MAX token, the database password) are redacted from
// every observation before it is attached, so no report file holds them.
package scenarios
