#!/bin/sh
# install-tools.sh installs the developer tools the Makefile needs (golangci-lint v2 and
# actionlint) into $(go env GOPATH)/bin. It is idempotent: a tool already at the pinned
# version is left alone (and nothing is printed), so CI and scripts/setup.sh call it on every run.
set -eu

GOLANGCI_LINT_VERSION=v2.15.0
ACTIONLINT_VERSION=v1.7.12

bin="$(go env GOPATH)/bin"

# has_version reports whether tool exists in $bin and its version output mentions want.
has_version() {
	tool=$1 want=$2
	[ -x "$bin/$tool" ] || return 1
	"$bin/$tool" --version 2>/dev/null | grep -q -- "${want#v}"
}

if ! has_version golangci-lint "$GOLANGCI_LINT_VERSION"; then
	echo "installing golangci-lint $GOLANGCI_LINT_VERSION (takes a few minutes)"
	go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi

if ! has_version actionlint "$ACTIONLINT_VERSION"; then
	echo "installing actionlint $ACTIONLINT_VERSION"
	go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi
