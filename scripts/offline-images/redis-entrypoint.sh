#!/bin/sh
# A small stand-in for the official redis image's entrypoint: arguments that start with
# "-" or end in ".conf" go to redis-server, which listens on every interface without
# protected mode (the official image's behaviour) and keeps nothing on disk.
set -eu
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
	shift
	exec redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
fi
exec "$@"
