#!/usr/bin/env bash
# A PostgreSQL primary with one streaming hot-standby replica, for the read-replica tests, beside (never
# touching) the cluster on 5432: `initdb` a primary of its own in a temporary directory (wal_level=replica,
# trust auth, a replication line in pg_hba.conf) on a free port, `pg_basebackup -R` it into a second
# directory, start that as a hot standby on another free port, and wait until it streams. Runs the
# servers as the `postgres` user (the binaries refuse root), so it needs root or that user.
#
#   eval "$(scripts/pg-replica.sh start)"   # exports STRATA_PG_PRIMARY_URL, STRATA_PG_REPLICA_URL, STRATA_PG_REPLICA_CTL,
#                                           # STRATA_PG_REPLICA_STATE
#   scripts/pg-replica.sh stop              # stops the servers of $STRATA_PG_REPLICA_STATE, removes their directories
#
# STRATA_PG_REPLICA_CTL is "<pg_ctl>|<replica data dir>|<run-as user>": what the tests use to stop and
# restart the replica mid-run. Each start's state is a file of its own (in its temporary directory, unless
# STRATA_PG_REPLICA_STATE names one), exported as STRATA_PG_REPLICA_STATE: another user of the machine (CI, a
# second run) starting the script gets servers of its own, and a stop ends only the servers of its shell's
# state. A start whose STRATA_PG_REPLICA_STATE names running servers prints their exports again.
set -euo pipefail

BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
STATE="${STRATA_PG_REPLICA_STATE:-}"
RUN_AS="${STRATA_PG_RUN_AS:-postgres}"

log() { echo "pg-replica: $*" >&2; }

# Runs a command as $RUN_AS (directly when we already are that user).
as_pg() {
  if [ "$(id -un)" = "$RUN_AS" ]; then "$@"; else runuser -u "$RUN_AS" -- "$@"; fi
}

# A TCP port nothing listens on (asked of the kernel, then released).
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  if [ -n "$STATE" ] && [ -f "$STATE" ]; then
    # shellcheck disable=SC1090
    . "$STATE"
    if as_pg "$BIN/pg_ctl" -D "$REPLICA_DIR" status >/dev/null 2>&1; then
      log "already running (state in $STATE)"
      print_exports
      return
    fi
    stop
  fi
  [ -x "$BIN/initdb" ] || { log "no PostgreSQL binaries in $BIN (apt install postgresql-15)"; exit 1; }
  id "$RUN_AS" >/dev/null 2>&1 || { log "no user $RUN_AS to run the servers as"; exit 1; }

  ROOT="$(mktemp -d /tmp/strata-pg-replica.XXXXXX)"
  STATE="${STATE:-$ROOT/state.env}"
  chown "$RUN_AS" "$ROOT"
  PRIMARY_DIR="$ROOT/primary"
  REPLICA_DIR="$ROOT/replica"
  PRIMARY_PORT="$(free_port)"
  REPLICA_PORT="$(free_port)"
  while [ "$REPLICA_PORT" = "$PRIMARY_PORT" ]; do REPLICA_PORT="$(free_port)"; done
  save_state
  # A step failing from here on (set -e) leaves nothing behind: no server running, no directory, no state.
  trap 'log "start failed; cleaning up"; stop' ERR

  as_pg "$BIN/initdb" -D "$PRIMARY_DIR" -U postgres --auth=trust -E UTF8 --locale=C >"$ROOT/initdb.log" 2>&1 \
    || { cat "$ROOT/initdb.log" >&2; stop; exit 1; }
  cat >>"$PRIMARY_DIR/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PRIMARY_PORT
unix_socket_directories = '$ROOT'
wal_level = replica
max_wal_senders = 5
hot_standby = on
fsync = off
synchronous_commit = on
shared_buffers = 32MB
max_connections = 60
CONF
  echo "host replication postgres 127.0.0.1/32 trust" >>"$PRIMARY_DIR/pg_hba.conf"
  as_pg "$BIN/pg_ctl" -D "$PRIMARY_DIR" -l "$ROOT/primary.log" -w -t 30 start >/dev/null
  as_pg "$BIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qAt -c "CREATE DATABASE test" >/dev/null

  as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$REPLICA_DIR" -R -X stream -c fast >/dev/null
  cat >>"$REPLICA_DIR/postgresql.conf" <<CONF
port = $REPLICA_PORT
hot_standby_feedback = on
max_standby_streaming_delay = 5s
CONF
  as_pg "$BIN/pg_ctl" -D "$REPLICA_DIR" -l "$ROOT/replica.log" -w -t 30 start >/dev/null

  local streaming=""
  for _ in $(seq 1 100); do
    streaming="$(as_pg "$BIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qAt -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || true)"
    [ "$streaming" = "1" ] && break
    sleep 0.2
  done
  [ "$streaming" = "1" ] || { log "the replica does not stream; see $ROOT/replica.log"; tail -20 "$ROOT/replica.log" >&2; stop; exit 1; }
  trap - ERR
  log "primary on 127.0.0.1:$PRIMARY_PORT, streaming replica on 127.0.0.1:$REPLICA_PORT (data in $ROOT)"
  print_exports
}

save_state() {
  cat >"$STATE" <<S
ROOT='$ROOT'
PRIMARY_DIR='$PRIMARY_DIR'
REPLICA_DIR='$REPLICA_DIR'
PRIMARY_PORT='$PRIMARY_PORT'
REPLICA_PORT='$REPLICA_PORT'
S
}

print_exports() {
  echo "export STRATA_PG_PRIMARY_URL=postgres://postgres@127.0.0.1:$PRIMARY_PORT/test"
  echo "export STRATA_PG_REPLICA_URL=postgres://postgres@127.0.0.1:$REPLICA_PORT/test"
  echo "export STRATA_PG_REPLICA_CTL='$BIN/pg_ctl|$REPLICA_DIR|$RUN_AS'"
  echo "export STRATA_PG_REPLICA_STATE='$STATE'"
}

stop() {
  [ -n "$STATE" ] || { log "nothing to stop: STRATA_PG_REPLICA_STATE is not set (eval the output of start first)"; return; }
  [ -f "$STATE" ] || { log "nothing to stop"; return; }
  # shellcheck disable=SC1090
  . "$STATE"
  # The replica first: stopped after its primary, it would keep retrying the connection until told to stop.
  for dir in "$REPLICA_DIR" "$PRIMARY_DIR"; do
    [ -d "$dir" ] && as_pg "$BIN/pg_ctl" -D "$dir" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  done
  case "$ROOT" in /tmp/strata-pg-replica.*) rm -rf "$ROOT" ;; esac
  rm -f "$STATE"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
