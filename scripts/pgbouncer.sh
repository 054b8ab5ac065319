#!/usr/bin/env bash
# A PgBouncer of its own, in transaction-pooling mode, in front of the PostgreSQL at STRATA_PG_URL
# (default postgres://postgres@127.0.0.1:5432/test), for the tests and benchmarks that go through a pooler.
#
#   eval "$(scripts/pgbouncer.sh start)"   # prints: export STRATA_PGBOUNCER_URL=... STRATA_PGBOUNCER_DIR=...
#   scripts/pgbouncer.sh stop              # stops the instance in STRATA_PGBOUNCER_DIR and removes the directory
#
# start installs Debian's pgbouncer package with apt-get when it is missing and the script runs as root, and
# runs one pgbouncer on a free port of 127.0.0.1 from a temporary directory /tmp/strata-pgbouncer.* holding its
# config, user list, log and pid file. It never touches the Debian system service nor the PostgreSQL cluster
# behind it. Messages go to stderr; stdout holds only the export lines. Exit status 3: pgbouncer is not
# available here (not installed, and not root or no apt-get), with the reason on stderr.
set -euo pipefail

say() { echo "pgbouncer.sh: $*" >&2; }

PG_URL="${STRATA_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

# The pgbouncer binary, installing the package when allowed; empty when there is none.
find_pgbouncer() {
  command -v pgbouncer 2>/dev/null && return 0
  [ -x /usr/sbin/pgbouncer ] && { echo /usr/sbin/pgbouncer; return 0; }
  return 1
}

install_pgbouncer() {
  if [ "$(id -u)" != 0 ]; then say "pgbouncer is not installed and this is not root: install it (apt-get install pgbouncer) or run as root"; return 1; fi
  if ! command -v apt-get >/dev/null; then say "pgbouncer is not installed and there is no apt-get to install it"; return 1; fi
  say "installing Debian's pgbouncer package"
  # policy-rc.d is not touched: the package may start its own service on 6432; this script never uses it.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >&2; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >&2 || {
      say "apt-get install pgbouncer failed"
      return 1
    }
  fi
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

start() {
  local bin
  if ! bin="$(find_pgbouncer)"; then
    install_pgbouncer || exit 3
    bin="$(find_pgbouncer)" || { say "pgbouncer is still not found after installing it"; exit 3; }
  fi
  # host, port, user and database of the server behind, from its URL (node parses it as pg does).
  local parts host port user database
  parts="$(node -e 'const u = new URL(process.argv[1]); console.log([u.hostname || "127.0.0.1", u.port || "5432", decodeURIComponent(u.username) || "postgres", u.pathname.slice(1) || "postgres"].join(" "))' "$PG_URL")"
  read -r host port user database <<<"$parts"
  local dir listen
  dir="$(mktemp -d /tmp/strata-pgbouncer.XXXXXX)"
  listen="$(free_port)"
  # Every database name is passed through to the server (the tests make databases of their own).
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$host port=$port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $listen
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  printf '"%s" ""\n' "$user" >"$dir/userlist.txt"
  # pgbouncer refuses to run as root: as root it runs as postgres, which must read the directory.
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir"
    as=(-u postgres)
  fi
  if ! "$bin" -d "${as[@]}" "$dir/pgbouncer.ini" >&2; then
    say "pgbouncer did not start; its log:"; cat "$dir/pgbouncer.log" >&2 2>/dev/null || true
    rm -rf "$dir"; exit 1
  fi
  local url="postgres://$user@127.0.0.1:$listen/$database"
  for _ in $(seq 1 50); do
    if psql "$url" -Atqc "SELECT 1" >/dev/null 2>&1; then
      say "pgbouncer $("$bin" --version | head -1) on 127.0.0.1:$listen in front of $host:$port (transaction pooling), files in $dir"
      echo "export STRATA_PGBOUNCER_URL=$url STRATA_PGBOUNCER_DIR=$dir"
      return 0
    fi
    sleep 0.2
  done
  say "pgbouncer on port $listen does not answer; its log:"; cat "$dir/pgbouncer.log" >&2 2>/dev/null || true
  STRATA_PGBOUNCER_DIR="$dir" stop
  exit 1
}

stop() {
  local dir="${STRATA_PGBOUNCER_DIR:-}"
  case "$dir" in
    /tmp/strata-pgbouncer.*) ;;
    "") say "stop: STRATA_PGBOUNCER_DIR is not set: nothing to stop"; return 0 ;;
    *) say "stop: STRATA_PGBOUNCER_DIR=$dir is not a directory this script made"; return 1 ;;
  esac
  if [ -f "$dir/pgbouncer.pid" ]; then
    local pid
    pid="$(cat "$dir/pgbouncer.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
  say "stopped and removed $dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
