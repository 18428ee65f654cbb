// Package chaos stands up the world around the chat service under test (the SUT) and
// breaks it on purpose.
//
// Start brings up PostgreSQL and Redis in containers (testcontainers-go), the fake MAX
// API in process, an embedded Toxiproxy with one proxy per dependency (Postgres, Redis,
// MaxAPI) on loopback, and the SUT as a child process configured by the contract's
// environment to reach every dependency only through its proxy. The harness keeps direct
// clients of its own (DB, Redis) for seeding and inspection that bypass the faults.
// StartReplicas runs more SUT processes beside the first, sharing its proxies and data;
// Clients probes each, KillReplica kills one, and Metrics adds their metrics up as an
// alerting query would (Combine).
//
// One Env serves a whole suite; Reset makes it fresh between scenarios in well under a
// second, so a scenario reads:
//
//	Expect(env.Reset(ctx, chaos.WithSUTEnv("PARTICIPANTS_CACHE_ERROR_POLICY=fail"),
//		chaos.WithChats(chaos.ChatRow{ID: 1, Name: "a", MaxChatID: -100, Count: 3}))).To(Succeed())
//	undo, err := env.Inject(ctx, chaos.Down(chaos.Redis))
//	Expect(err).NotTo(HaveOccurred())
//	defer undo(ctx)
//	mark := env.LogMark()
//	resp := env.Client().List(ctx)
//	now, err := env.Metrics(ctx)
//	delta := now.Delta(env.Baseline())
//	n := env.Logs().Since(mark).Msg("Using fallback data source").With("reason", "cache_unavailable").Count()
//
// Faults are typed values, one constructor each: proxy faults (Down, Blackhole, Timeout,
// Latency, Reset, Bandwidth, SlowClose, Slicer, LimitData), fake MAX answers (MaxStatus,
// MaxRateLimited, MaxUnauthorized, MaxMalformed, MaxWrongTypes, MaxHang, MaxSlow,
// MaxTruncated...) and process faults (ContainerStopped, ContainerPaused, SUTRestarted).
// Inject returns the undo; Reset takes every fault away. Every call that can fail
// returns its error: the environment never stops a test by itself.
//
// Configuration comes from options and from the environment: CHAOS_POSTGRES_IMAGE and
// CHAOS_REDIS_IMAGE (default postgres:16-alpine, redis:7-alpine; when a default image is
// neither present nor pullable, the images built by scripts/offline-images.sh are used,
// named by CHAOS_OFFLINE_POSTGRES_IMAGE and CHAOS_OFFLINE_REDIS_IMAGE), CHAOS_SUT_CMD (a
// command to test instead of building ./service/cmd/chatd), CHAOS_SUT_ENV (KEY=VALUE
// settings for every start of the SUT, separated by spaces or commas), CHAOS_RACE or CI
// (build the SUT with -race) and DOCKER_HOST. Start sets TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 and
// TESTCONTAINERS_RYUK_DISABLED=true when unset, and terminates its own containers; a
// container left by a harness process that was killed is removed by the next Start.
//
// The package knows the service contract and the fake MAX; it knows nothing of the
// behaviour matrix, and never imports the service's code.
package chaos
