# faultline. Every target is .PHONY; see README.md for what each one does.
GO ?= go
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1
export TESTCONTAINERS_RYUK_DISABLED ?= true

.PHONY: test unit build vet fmt images alerts stack

test: vet unit alerts

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

unit:
	$(GO) test -race ./...

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
