#!/usr/bin/env bash
# ensure-images.sh makes sure the harness has PostgreSQL and Redis images to run.
#
#   OFFLINE_IMAGES=auto (default)  use the configured images (CHAOS_POSTGRES_IMAGE,
#                                  CHAOS_REDIS_IMAGE; default postgres:16-alpine and
#                                  redis:7-alpine) when present or pullable; otherwise build
#                                  the offline ones (scripts/offline-images.sh), which the
#                                  harness then picks up by itself.
#   OFFLINE_IMAGES=1               always make sure the offline images exist.
#   OFFLINE_IMAGES=0               do nothing (the harness reports what is missing).
set -euo pipefail

mode=${OFFLINE_IMAGES:-auto}
here=$(cd "$(dirname "$0")" && pwd)
pg=${CHAOS_POSTGRES_IMAGE:-postgres:16-alpine}
redis=${CHAOS_REDIS_IMAGE:-redis:7-alpine}

available() { docker image inspect "$1" >/dev/null 2>&1 || docker pull -q "$1" >/dev/null 2>&1; }

case "$mode" in
0) exit 0 ;;
1) exec "$here/offline-images.sh" ;;
auto)
	if available "$pg" && available "$redis"; then
		exit 0
	fi
	echo "images: $pg or $redis cannot be pulled here; using offline images"
	exec "$here/offline-images.sh"
	;;
*)
	echo "OFFLINE_IMAGES must be auto, 1 or 0, not $mode" >&2
	exit 2
	;;
esac
