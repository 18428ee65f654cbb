# faultline. Every target is .PHONY; see README.md for what each one does.
GO ?= go
# golangci-lint from PATH, else where scripts/install-tools.sh puts it.
GOLANGCI_LINT ?= $(shell command -v golangci-lint 2>/dev/null || echo "$$($(GO) env GOPATH)/bin/golangci-lint")
FUZZTIME ?= 30s
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1
export TESTCONTAINERS_RYUK_DISABLED ?= true

.PHONY: test unit build vet fmt images alerts lint tools chatd fuzz stack bench

test: vet lint unit alerts

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

unit:
	$(GO) test -race ./...

# golangci-lint v2 with .golangci.yml; install it with `make tools`.
lint:
	@test -x "$(GOLANGCI_LINT)" || { echo "golangci-lint not found: run scripts/install-tools.sh (make tools)"; exit 1; }
	$(GOLANGCI_LINT) run ./...

tools:
	scripts/install-tools.sh

# The reference service's binary, in bin/ (ignored by git).
chatd:
	$(GO) build -o bin/chatd ./service/cmd/chatd

# Fuzz the HTTP input parsing for FUZZTIME per target; `make unit` runs the seed corpus.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzListQuery$$' -fuzztime $(FUZZTIME) ./service/internal/httpapi
	$(GO) test -run '^$$' -fuzz '^FuzzChatID$$' -fuzztime $(FUZZTIME) ./service/internal/httpapi
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./service/internal/httpapi

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
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

# Load-test the service healthy and with each dependency broken (chaos/cmd/bench);
# BENCH_FLAGS='-rate 300 -duration 20s' tunes it. Needs Docker, like make chaos.
bench:
	$(GO) run ./chaos/cmd/bench $(BENCH_FLAGS)
