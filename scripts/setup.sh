#!/usr/bin/env bash
# setup.sh prepares the machine for one of the README's two commands, and is the one recipe
# for it: `make chaos` runs `setup.sh chaos`, `make test` runs `setup.sh test`, and .ci/run
# calls it too.
#
#   chaos  what the behaviour matrix needs: PostgreSQL 15+ and Redis binaries for the process
#          backend, or the Docker engine (and debootstrap for the offline images) when
#          CHAOS_BACKEND=docker asks for it.
#   test   all of chaos's, plus promtool (Debian's prometheus), git, Chromium (make
#          report-check opens the report's page in it; an installed Google Chrome does too), the
#          Docker engine (the environment specs run on both backends) and the Go tools
#          (golangci-lint, actionlint: scripts/install-tools.sh).
#
# What is missing is installed with apt-get when running as root on Debian or Ubuntu;
# otherwise one message names the exact command and the script fails. When everything is
# there it prints nothing. A Docker engine that is installed but not running is started
# (root only; log in /var/log/dockerd.log) unless SETUP_START_DOCKER=0. SETUP=0 (make
# SETUP=0 ...) skips all of it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${1:-chaos}
backend=${CHAOS_BACKEND:-auto}

case "$target" in
chaos | test) ;;
*)
	echo "usage: $0 chaos|test" >&2
	exit 2
	;;
esac

if ! command -v go >/dev/null 2>&1; then
	echo "setup: Go is required (https://go.dev/doc/install); nothing else can be set up without it." >&2
	exit 1
fi

have_postgres() {
	command -v initdb >/dev/null 2>&1 && return 0
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

# A browser chromedp can drive: Debian's chromium, or a Chrome already on the machine.
have_chromium() {
	local b
	for b in chromium chromium-browser google-chrome google-chrome-stable; do
		command -v "$b" >/dev/null 2>&1 && return 0
	done
	return 1
}

# PostgreSQL's package: postgresql-15 where the release has it (Debian 12), else the
# release's own default version (16 and later).
postgres_package() {
	if apt-cache show postgresql-15 >/dev/null 2>&1; then echo postgresql-15; else echo postgresql; fi
}

want_docker=""
[ "$target" = test ] && want_docker=1
[ "$backend" = docker ] && want_docker=1

packages=()
have_postgres || packages+=("$(postgres_package 2>/dev/null || echo postgresql)")
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
if [ "$target" = test ]; then
	command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
	command -v git >/dev/null 2>&1 || packages+=(git)
	have_chromium || packages+=(chromium)
fi
if [ -n "$want_docker" ]; then
	command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
	command -v debootstrap >/dev/null 2>&1 || packages+=(debootstrap)
fi

if [ ${#packages[@]} -gt 0 ]; then
	cmd="apt-get install -y --no-install-recommends ${packages[*]}"
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "setup: missing ${packages[*]}; install them as root: $cmd (or SETUP=0 to skip this check)" >&2
		exit 1
	fi
	echo "setup: installing ${packages[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086 # the package list is meant to split
	apt-get install -y -q --no-install-recommends ${packages[*]} >/dev/null
fi

if [ -n "$want_docker" ] && ! docker info >/dev/null 2>&1 && [ -z "${DOCKER_HOST:-}" ]; then
	if [ "$(id -u)" -eq 0 ] && [ "${SETUP_START_DOCKER:-1}" != 0 ]; then
		echo "setup: starting the Docker engine (log: /var/log/dockerd.log)" >&2
		nohup dockerd >/var/log/dockerd.log 2>&1 &
		for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
		docker info >/dev/null 2>&1 || {
			tail -n 20 /var/log/dockerd.log >&2
			echo "setup: dockerd did not start" >&2
			exit 1
		}
	elif [ "${SETUP_START_DOCKER:-1}" != 0 ]; then
		echo "setup: the Docker engine is not running; start it as root: dockerd >/var/log/dockerd.log 2>&1 &" >&2
		exit 1
	fi
fi

if [ "$target" = test ]; then
	"$here/install-tools.sh"
fi
