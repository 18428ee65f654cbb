// Package matrix holds faultline's behaviour matrix as data: one Row per scenario, each with
// the state of every dependency, the data seeded before it runs, the request it sends and
// everything the service must (and must not) do in answer. The report, the release gate and
// the SLA document are pure functions of the rows and of Ginkgo's JSON report, so they can be
// rebuilt offline; the package imports no Ginkgo runtime, only its report types.
//
// # Running a row
//
// Scenarios turn each row into one DescribeTable entry labelled with Labels(row), start the
// service with BaseEnv, and for each row:
//
//  1. reset the environment, which restarts the service with the row's settings;
//  2. seed Given.Seed with explicit chat ids (ages relative to a seeding time, Observation.SeededAt):
//     database rows, Redis entries participants:<id>, fake MAX counts;
//  3. apply Given's faults (a restarted-empty Redis is restarted here), snapshot the metrics
//     and note Phases.Start;
//  4. send Request.WarmUp requests, WarmUpInterval apart; snapshot the metrics, note Phases.Measured;
//  5. send Request.Repeat measured requests, Interval apart, recording every status, the first
//     response's chats, headers and error code, every chat's sources and the latencies
//     (NewLatency); probe Expected.Probes; snapshot the metrics, note Phases.MeasuredEnd;
//  6. for a row with Expected.Recovery: lift the faults, repeat the request until
//     RecoveryMatches (or Recovery.Within runs out) and record RecoveryObserved;
//  7. observe (metric deltas for both windows, gauges, log records, the fake MAX journal, stores
//     read directly, /health/detailed) and Compare, every 100 ms, until nothing differs or
//     Expected.Within has passed; then keep observing for Expected.Hold, every 250 ms and at
//     its end (a late write stays written: the end sees it);
//  8. attach the last observation with AddReportEntry(ObservationEntry, obs) and fail the spec
//     with the mismatches.
//
// `matrix report` then rebuilds the verdict from the JSON report (a spec that passed with a
// mismatching observation still fails its row), and `matrix gate` refuses anything but a full
// pass.
package matrix
