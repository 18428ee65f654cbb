#!/usr/bin/env bash
# ensure-backend.sh makes sure the chaos environment has somewhere to run PostgreSQL and Redis,
# for the backend CHAOS_BACKEND names:
#
#   docker   the Docker engine must answer; images are made sure of by ensure-images.sh
#   process  the machine's PostgreSQL (initdb, postgres) and redis-server binaries
#   auto     (default) docker when the engine answers, else process
#
# It prints nothing when all is there, and one message with the command to run otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
backend=${CHAOS_BACKEND:-auto}

docker_up() { docker info >/dev/null 2>&1; }

have_binaries() {
	command -v redis-server >/dev/null 2>&1 || return 1
	command -v initdb >/dev/null 2>&1 && return 0
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

need_binaries() {
	have_binaries && return 0
	echo "The process backend needs PostgreSQL 15+ and Redis: apt-get install -y postgresql-15 redis-server" \
		"(or start Docker and use CHAOS_BACKEND=docker)." >&2
	exit 1
}

need_docker() {
	docker_up || {
		echo "Docker is not reachable. Install the engine (apt-get install -y docker.io) and start it" \
			"(dockerd >/var/log/dockerd.log 2>&1 &), point DOCKER_HOST at a running one, or use CHAOS_BACKEND=process." >&2
		exit 1
	}
	"$here/ensure-images.sh"
}

case "$backend" in
docker) need_docker ;;
process) need_binaries ;;
auto) if docker_up; then need_docker; else need_binaries; fi ;;
*)
	echo "CHAOS_BACKEND must be docker, process or auto, not $backend" >&2
	exit 2
	;;
esac
