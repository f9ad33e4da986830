#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (no Docker needed):
#   scripts/test-postgres.sh start DIR   initialises a cluster in DIR, starts it on a free loopback port and
#                                        prints the connection string for LOKO_TEST_POSTGRES (role with CREATEDB)
#   scripts/test-postgres.sh stop DIR    stops it (DIR can then be removed)
# Installs Debian's postgresql package when no server binaries are found. As root, the server runs as the
# `postgres` user, since PostgreSQL refuses to run as root. fsync is off: the cluster is thrown away.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
command="$1"
dir="$(mkdir -p "$2" && cd "$2" && pwd)"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
  start)
    if [[ -z "$(bindir)" || ! -x "$(bindir)/pg_ctl" ]]; then
      echo "postgresql: installing Debian's package" >&2
      apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
    fi
    bin="$(bindir)"
    [[ $(id -u) -ne 0 ]] || chown postgres: "$dir"

    # The first free port from 54320 up: other servers on this machine keep theirs.
    port=54320
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done

    password="$(openssl rand -hex 16)"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off" start >&2
    as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
      -c "CREATE ROLE loko LOGIN CREATEDB PASSWORD '$password'"
    echo "Host=127.0.0.1;Port=$port;Username=loko;Password=$password"
    ;;
  stop)
    bin="$(bindir)"
    [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2
    ;;
  *) usage ;;
esac
