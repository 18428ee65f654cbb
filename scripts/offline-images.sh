#!/usr/bin/env bash
# offline-images.sh builds drop-in local images for PostgreSQL and Redis on machines that
# cannot pull from a registry. It bootstraps a minimal Debian root file system from the
# machine's own apt mirror (read from the apt configuration, never hard-coded), imports it,
# and layers a small entrypoint on top that behaves like the official image's.
#
#   scripts/offline-images.sh            build what is missing
#   scripts/offline-images.sh --force    rebuild everything
#
# Images produced (override with the environment variables of the same name):
#   CHAOS_OFFLINE_POSTGRES_IMAGE  default faultline-offline/postgres:15
#   CHAOS_OFFLINE_REDIS_IMAGE     default faultline-offline/redis:7
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
base_image=faultline-offline/debian-base:bookworm
pg_image=${CHAOS_OFFLINE_POSTGRES_IMAGE:-faultline-offline/postgres:15}
redis_image=${CHAOS_OFFLINE_REDIS_IMAGE:-faultline-offline/redis:7}
suite=${OFFLINE_IMAGES_SUITE:-bookworm}
force=false
[ "${1:-}" = --force ] && force=true

log() { printf 'offline-images: %s\n' "$*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if ! docker info >/dev/null 2>&1; then
	log "the Docker engine is not reachable; start it first (for example: dockerd >/var/log/dockerd.log 2>&1 &)"
	exit 1
fi

if ! $force && have_image "$pg_image" && have_image "$redis_image"; then
	exit 0
fi

mirror() {
	local m=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		m=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources | head -n1 | awk '{print $1}')
	fi
	if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
		m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
	fi
	if [ -z "$m" ]; then
		log "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
		exit 1
	fi
	printf '%s\n' "$m"
}

if $force || ! have_image "$base_image"; then
	if ! command -v debootstrap >/dev/null 2>&1; then
		log "debootstrap is missing; install it with: apt-get install -y debootstrap"
		exit 1
	fi
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	log "bootstrapping $suite with postgresql-15 and redis-server (about a minute)"
	debootstrap --variant=minbase --include=postgresql-15,redis-server,ca-certificates \
		"$suite" "$work/rootfs" "$(mirror)" >"$work/debootstrap.log" 2>&1 || {
		tail -n 30 "$work/debootstrap.log" >&2
		exit 1
	}
	# The distribution's cluster is not used: the entrypoint makes its own under PGDATA.
	rm -rf "$work/rootfs/var/lib/postgresql/15" "$work/rootfs/etc/postgresql/15"
	rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
	tar -C "$work/rootfs" -c . | docker import \
		--change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' \
		- "$base_image" >/dev/null
	log "imported $base_image"
fi

ctx=$(mktemp -d)
cp "$here/offline-images/postgres-entrypoint.sh" "$here/offline-images/redis-entrypoint.sh" "$ctx/"
cat >"$ctx/Dockerfile.postgres" <<DOCKERFILE
FROM $base_image
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE
cat >"$ctx/Dockerfile.redis" <<DOCKERFILE
FROM $base_image
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["redis-server"]
DOCKERFILE
# The legacy builder needs no BuildKit frontend image, which could not be pulled here.
DOCKER_BUILDKIT=0 docker build -q -f "$ctx/Dockerfile.postgres" -t "$pg_image" "$ctx" >/dev/null
DOCKER_BUILDKIT=0 docker build -q -f "$ctx/Dockerfile.redis" -t "$redis_image" "$ctx" >/dev/null
rm -rf "$ctx"
log "built $pg_image and $redis_image"
