# faultline. Every target is .PHONY; see README.md for what each one does.
GO ?= go
# golangci-lint from PATH, else where scripts/install-tools.sh puts it.
GOLANGCI_LINT ?= $(shell command -v golangci-lint 2>/dev/null || echo "$$($(GO) env GOPATH)/bin/golangci-lint")
ACTIONLINT ?= $(shell command -v actionlint 2>/dev/null || echo "$$($(GO) env GOPATH)/bin/actionlint")
FUZZTIME ?= 30s
comma := ,
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1
export TESTCONTAINERS_RYUK_DISABLED ?= true

# The behaviour matrix (make chaos, make scenario), run by scenarios/cmd/chaos across
# MATRIX_PROCS parallel processes (each with its own environments; default measured, see
# README). MATRIX_OUT is where the reports go; SHARD=i/n runs a share of the rows.
MATRIX_OUT ?= out
MATRIX_DIR = $(abspath $(MATRIX_OUT))
MATRIX_TIMEOUT ?= 30m
MATRIX_PROCS ?=
SHARD ?=
MATRIX_RUN = $(GO) run ./scenarios/cmd/chaos -out $(MATRIX_DIR) -timeout $(MATRIX_TIMEOUT) \
	$(if $(MATRIX_PROCS),-procs $(MATRIX_PROCS)) $(if $(SHARD),-shard $(SHARD)) $(if $(V),-v)
# MATRIX_CONTRACT_ONLY=1: the service under test (CHAOS_SUT_CMD) is another implementation of
# the contract. Rows labelled scope:reference are left out, the others are judged against the
# contract only, and the gate is the contract gate (matrix gate -contract-only).
MATRIX_CONTRACT_ONLY ?=
export MATRIX_CONTRACT_ONLY
CONTRACT_ONLY = $(filter 1,$(MATRIX_CONTRACT_ONLY))
MATRIX_GATE = $(GO) run ./matrix/cmd/matrix gate $(if $(CONTRACT_ONLY),-contract-only)
# BASELINE=<report directory or matrix.json of an earlier run, the last release's>: make chaos
# compares the run with it (matrix render: the pages lead with what changed) and the gate
# refuses a row that regressed, unless ACCEPT (row id: reason, one a line) accepts it.
BASELINE ?=
ACCEPT ?= matrix/accepted-changes.yaml
BASELINE_FLAGS = $(if $(BASELINE),-baseline $(BASELINE) $(if $(wildcard $(ACCEPT)),-accept $(ACCEPT)))
# CHAOS_BACKEND: where the environment runs PostgreSQL and Redis: docker (containers,
# testcontainers-go), process (the machine's own binaries, as child processes) or auto (the
# default: docker when the engine answers, else process). scripts/ensure-backend.sh checks
# that the chosen one can run.
CHAOS_BACKEND ?= auto
export CHAOS_BACKEND
# OFFLINE_IMAGES=auto builds the offline images only when the configured ones cannot be
# pulled (scripts/ensure-images.sh); 1 always makes sure they exist, 0 never touches images.
OFFLINE_IMAGES ?= auto

# Tests that need Docker run in their own targets, never in unit: the matrix (./scenarios,
# make chaos) and the chaos package's specs labelled env (make env-test).
MODULE := $(shell $(GO) list -m)
UNIT_PKGS = $(shell $(GO) list ./... | grep -v -x -e '$(MODULE)/scenarios' -e '$(MODULE)/chaos')

.PHONY: test unit build vet fmt images alerts lint actionlint tools chatd fuzz stack bench \
	env-test interrupt-test env-checks env-test-docker env-test-process interrupt-test-run chaos scenario docs backend setup-test setup-chaos docker-check offline-images-if-needed selftest selftest-sample selftest-soak selftest-checks soak flake timings \
	report-check

# make test runs these steps one after another and says how long each took, so a CI log
# shows where its time went. The soak against the reference runs inside selftest-soak, as
# its control (side by side with the variants, and it must pass), so make test does not run
# make soak on its own. selftest-sample builds every mutant of the service, so the unit
# tests only check that the mutants' patches still apply (UNIT_FLAGS=-short); make unit
# alone builds them too.
TEST_STEPS = vet lint actionlint unit alerts env-checks chaos report-check selftest-checks
test: setup-test
	@for step in $(TEST_STEPS); do \
		start=$$(date +%s); \
		$(MAKE) --no-print-directory $$step SETUP=0 UNIT_FLAGS=-short || { \
			echo "make test: $$step failed after $$(( $$(date +%s) - start )) s"; exit 1; }; \
		echo "make test: $$step took $$(( $$(date +%s) - start )) s"; \
	done

# scripts/setup.sh installs what the two README commands need (apt-get, as root on Debian
# or Ubuntu) and prints nothing when it is all there; SETUP=0 skips it.
SETUP ?= 1
setup-test:
	@$(if $(filter 0,$(SETUP)),true,scripts/setup.sh test)

setup-chaos:
	@$(if $(filter 0,$(SETUP)),true,scripts/setup.sh chaos)

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# Test binaries are linked as the harness links the binaries it builds (chaos.LDFlags says
# why): without DWARF.
TEST_LDFLAGS = -ldflags=-w

# Docker-free and fast: every package but the two that start containers, and the chaos
# package's own unit specs.
unit:
	$(GO) test -race $(TEST_LDFLAGS) $(UNIT_FLAGS) $(UNIT_PKGS)
	$(GO) test -race $(TEST_LDFLAGS) ./chaos -ginkgo.label-filter='!env'

# The chaos package's specs against a real environment, on both backends: containers (Docker)
# and processes (the machine's PostgreSQL and Redis). Specs labelled docker need containers.
# They wait on processes and containers more than they use the CPU, so the two backends run
# side by side, each one's output printed whole when it ends.
env-test: docker-check offline-images-if-needed
	@$(MAKE) --no-print-directory -j2 --output-sync=target env-test-docker env-test-process

# make chaos interrupted (SIGINT, SIGTERM to its process group) once its first row finished,
# on both backends: nothing it started may be left behind.
interrupt-test: docker-check offline-images-if-needed
	@$(MAKE) --no-print-directory interrupt-test-run

# make test's environment checks: both backends' specs and the interrupt test side by side
# (111 s one after another, 53 s side by side on two cores). The Docker specs keep the
# containers of dead harness processes here (CHAOS_REAP_ORPHANS=0): each of their starts
# would otherwise remove the very containers the interrupt test, beside them, must find
# removed by the interrupted run itself.
env-checks: docker-check offline-images-if-needed
	@$(MAKE) --no-print-directory -j3 --output-sync=target env-test-docker env-test-process interrupt-test-run KEEP_ORPHANS=1

env-test-docker:
	CHAOS_BACKEND=docker $(if $(KEEP_ORPHANS),CHAOS_REAP_ORPHANS=0 )$(GO) test -race $(TEST_LDFLAGS) -count=1 ./chaos -ginkgo.label-filter=env
env-test-process:
	CHAOS_BACKEND=process $(GO) test -race $(TEST_LDFLAGS) -count=1 ./chaos -ginkgo.label-filter='env && !docker'
# The make chaos the test starts must not inherit this make's -j and --output-sync (which
# would hold its progress lines back until it ends): MAKEFLAGS is cleared for it.
interrupt-test-run:
	MAKEFLAGS= MFLAGS= CHAOS_INTERRUPT_TEST=1 $(GO) test $(TEST_LDFLAGS) -count=1 -run TestInterruptLeavesNothingBehind -v ./scenarios/cmd/chaos

# golangci-lint v2 with .golangci.yml; installed into $(go env GOPATH)/bin when missing.
lint:
	@test -x "$(GOLANGCI_LINT)" || scripts/install-tools.sh
	$(GOLANGCI_LINT) run ./...

# The GitHub workflows; actionlint is installed like golangci-lint when missing.
actionlint:
	@test -x "$(ACTIONLINT)" || scripts/install-tools.sh
	$(ACTIONLINT)

tools:
	scripts/install-tools.sh

# The reference service's binary, in bin/ (ignored by git).
chatd:
	$(GO) build -o bin/chatd ./service/cmd/chatd

# Fuzz every target for FUZZTIME each: the HTTP input parsing, the MAX client's decoding of
# chats and error answers, the cache entry decoding. `make unit` runs their seed corpora.
FUZZ_TARGETS = httpapi:FuzzListQuery httpapi:FuzzChatID httpapi:FuzzRequest \
	maxclient:FuzzDecodeChat maxclient:FuzzErrorAnswer rediscache:FuzzDecode
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; echo "fuzz $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./service/internal/$$pkg; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

images:
	scripts/offline-images.sh

# The whole environment by hand: containers, proxies, fake MAX and the service, with a
# fault prompt on stdin; Ctrl-C tears it down. STACK_FLAGS='-v -race' for more.
# Built first and run directly (not with go run), so Ctrl-C reaches the stack itself and
# the teardown's clean exit is what make sees.
stack:
	$(GO) build -o out/stack ./chaos/cmd/stack
	out/stack $(STACK_FLAGS)

# promtool comes from Debian's prometheus package.
alerts:
	@command -v promtool >/dev/null 2>&1 || { echo "promtool not found: install Debian's prometheus package (apt-get install -y prometheus); .ci/run does"; exit 1; }
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

# Load-test the service (chaos/cmd/bench): latency healthy and with each dependency broken,
# throughput at saturation against a raw floor, and 10,000 stale chats refreshed by three
# replicas on one MAX budget; fails when a bound in README ("Measured") is missed.
# BENCH_FLAGS='-rate 300 -duration 20s -only saturation' tunes it. About ten minutes.
bench: backend
	$(GO) run ./chaos/cmd/bench $(BENCH_FLAGS)

# The soak (chaos/cmd/soak): two replicas under constant mixed load for SOAK_DURATION while
# faults drawn from a seed come and go, the contract's invariants checked all the time.
# SOAK_SEED repeats a run (the seed is printed); SOAK_FLAGS adds flags (-rate, -replicas).
# The report: $(MATRIX_OUT)/soak.{md,json,svg}; any violation fails.
SOAK_DURATION ?= 2m
SOAK_FLAGS ?=
soak: backend
	SOAK_DURATION=$(SOAK_DURATION) $(GO) run ./chaos/cmd/soak -out $(MATRIX_DIR) $(SOAK_FLAGS)

backend: setup-chaos
	@OFFLINE_IMAGES=$(OFFLINE_IMAGES) scripts/ensure-backend.sh

docker-check:
	@docker info >/dev/null 2>&1 || { \
		echo "Docker is not reachable. Install the engine (apt-get install -y docker.io) and start it" \
			"(dockerd >/var/log/dockerd.log 2>&1 &), or point DOCKER_HOST at a running one; .ci/run does both."; \
		exit 1; }

offline-images-if-needed: docker-check
	@OFFLINE_IMAGES=$(OFFLINE_IMAGES) scripts/ensure-images.sh

# The whole behaviour matrix against the service (built with -race when CI or CHAOS_RACE
# is set), the report in MATRIX_OUT (matrix.md, matrix.html, matrix.json, report.json,
# junit.xml), then the release gate: the exit status is the gate's. With SHARD=i/n only that
# share runs and its gate accepts the other shards' rows as missing; `matrix merge` joins the
# shards' directories and the gate on the merged report refuses any row that is missing.
chaos: backend
	@mkdir -p $(MATRIX_DIR) && rm -f $(MATRIX_DIR)/matrix.json $(MATRIX_DIR)/report.json $(MATRIX_DIR)/junit.xml
	@status=0; $(MATRIX_RUN) || status=$$?; \
	$(if $(BASELINE),$(GO) run ./matrix/cmd/matrix render $(BASELINE_FLAGS) $(MATRIX_DIR) &&) \
	$(MATRIX_GATE) $(BASELINE_FLAGS) $(if $(SHARD),-allow-missing) $(MATRIX_DIR)/matrix.json && exit $$status

# The report's page as a person sees it, in headless Chromium (matrix/cmd/reportcheck): no
# console error, the verdict and the number of rows of matrix.json, the result filters and a
# grid cell narrowing the rows to the right count; a screenshot of its first screen in
# $(MATRIX_DIR)/matrix.png. Reads the report make chaos wrote.
report-check:
	$(GO) run ./matrix/cmd/reportcheck -dir $(MATRIX_DIR)

# One row (ROW=<id>) or a group (LABELS='<ginkgo label filter>', e.g. 'dep:redis'), fast;
# the report is written as for make chaos and the gate accepts the rows that did not run.
scenario: backend
	@test -n "$(ROW)$(LABELS)" || { echo "usage: make scenario ROW=<row id> | LABELS='<label filter>' (go run ./matrix/cmd/matrix list)"; exit 2; }
	@mkdir -p $(MATRIX_DIR) && rm -f $(MATRIX_DIR)/matrix.json $(MATRIX_DIR)/report.json $(MATRIX_DIR)/junit.xml
	@status=0; $(MATRIX_RUN) $(if $(ROW),-row '$(ROW)') $(if $(LABELS),-labels '$(LABELS)') || status=$$?; \
	$(MATRIX_GATE) -allow-missing $(MATRIX_DIR)/matrix.json && exit $$status

# The whole matrix RUNS times (reports in out/flake/run-N), then out/flake.md: per row, the
# runs it passed and its slowest time. Fails when any row did not pass every run.
RUNS ?= 10
flake: backend
	@rm -rf $(MATRIX_DIR)/flake && mkdir -p $(MATRIX_DIR)/flake
	@for i in $$(seq 1 $(RUNS)); do \
		echo "== flake run $$i of $(RUNS)"; \
		$(GO) run ./scenarios/cmd/chaos -out $(MATRIX_DIR)/flake/run-$$i -timeout $(MATRIX_TIMEOUT) \
			$(if $(MATRIX_PROCS),-procs $(MATRIX_PROCS)) | tail -n 3; \
	done
	$(GO) run ./matrix/cmd/matrix flake -o $(MATRIX_DIR)/flake.md \
		-note "make flake RUNS=$(RUNS)$(if $(MATRIX_PROCS), MATRIX_PROCS=$(MATRIX_PROCS))$(if $(CI)$(CHAOS_RACE), (CI=$(CI) CHAOS_RACE=$(CHAOS_RACE)$(comma) the service built with -race unless CHAOS_RACE=0)): $$(nproc) cores, $$(date -u +%Y-%m-%d)" \
		$$(for i in $$(seq 1 $(RUNS)); do echo $(MATRIX_DIR)/flake/run-$$i; done)

# Refresh matrix/timings.json (shard balance, parallel order) from the last full run.
timings:
	$(GO) run ./matrix/cmd/matrix timings -o matrix/timings.json $(MATRIX_DIR)/matrix.json

# docs/SLA.md is generated from the rows; a matrix unit test fails when it is out of date.
docs:
	$(GO) run ./matrix/cmd/matrix sla -o docs/SLA.md

# The harness proves it can fail: the matrix runs against deliberately broken variants of
# the service, and the gate must reject each on exactly the expected rows
# (scenarios/selftest/README.md). SELFTEST_FLAGS='-sample' for a faster run,
# '-variants strict-mode' for one variant.
# The self-test prefers the process backend when CHAOS_BACKEND is auto: its verdicts do not
# depend on the backend, and containers cost three times the CPU. CHAOS_BACKEND=docker runs
# it on containers: the full run on three processes, the sample one variant at a time.
SELFTEST_BACKEND = $(if $(filter auto,$(CHAOS_BACKEND)),process,$(CHAOS_BACKEND))
selftest:
	@$(MAKE) --no-print-directory backend CHAOS_BACKEND=$(SELFTEST_BACKEND)
	$(GO) build -o out/selftest/bin/selftest ./scenarios/selftest/cmd/selftest
	CHAOS_BACKEND=$(SELFTEST_BACKEND) out/selftest/bin/selftest $(SELFTEST_FLAGS)

# make test runs each variant on its sample: its expected rows (at most eight, the quickest
# of each group first), the rows nearest to its change and the control rows, a quarter of
# the row runs. Every expected row of the sample is required to be rejected; a row outside the sample rejected unexpectedly is what only the
# full self-test (make selftest) sees.
selftest-sample:
	@$(MAKE) --no-print-directory selftest SELFTEST_FLAGS='-sample $(SELFTEST_FLAGS)'

# make test's self-tests, the matrix's (sampled) and the soak's, side by side: both wait
# more than they compute (about 4 minutes side by side on two cores, 246 s in CI at 07b6ddb,
# against about 7 minutes one after the other). The back end, the selftest command and both self-tests' binaries (-build-only)
# are made ready before either starts, so their own set-up finds nothing left to do, neither
# writes a binary the other runs, and the 28 mutants are not linked beside the soak's load.
selftest-checks:
	@$(MAKE) --no-print-directory backend CHAOS_BACKEND=$(SELFTEST_BACKEND)
	$(GO) build -o out/selftest/bin/selftest ./scenarios/selftest/cmd/selftest
	CHAOS_BACKEND=$(SELFTEST_BACKEND) out/selftest/bin/selftest -sample -build-only $(SELFTEST_FLAGS)
	CHAOS_BACKEND=$(SELFTEST_BACKEND) out/selftest/bin/selftest soak -build-only $(SELFTEST_SOAK_FLAGS)
	@$(MAKE) --no-print-directory -j2 --output-sync=target selftest-sample selftest-soak

# The soak proves it can fail: it runs, as make soak does, against each soak variant (a
# goroutine leak, a database write over a newer observation, a count labelled with the
# wrong source) and must fail each on the invariants named in scenarios/selftest/soak.go;
# and against the reference, its control, which must pass (SELFTEST_SOAK_FLAGS=-control=false
# leaves it out).
selftest-soak:
	@$(MAKE) --no-print-directory backend CHAOS_BACKEND=$(SELFTEST_BACKEND)
	$(GO) build -o out/selftest/bin/selftest ./scenarios/selftest/cmd/selftest
	CHAOS_BACKEND=$(SELFTEST_BACKEND) out/selftest/bin/selftest soak $(SELFTEST_SOAK_FLAGS)
