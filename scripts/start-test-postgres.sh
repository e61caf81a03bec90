#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for prflow's tests (Debian's `postgresql`
# package), on 127.0.0.1 at a free port, and print the line to export:
#   eval "$(bash scripts/start-test-postgres.sh)"
# sets PRFLOW_TEST_DATABASE_URL=postgres://prflow:PASSWORD@127.0.0.1:PORT/postgres
# The role has a password (scram-sha-256) so the tests can check it never shows.
# Installs the package with apt-get when it is missing (CI runs as root).
# Stop it with: pg_ctl -D "$PRFLOW_TEST_PG_DIR/data" stop
# PRFLOW_TEST_PG_FSYNC=on keeps fsync on (benchmarks: a commit is durable); the
# tests leave it off.
set -euo pipefail
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
dir="$(mktemp -d /tmp/prflow-test-pg.XXXXXX)"
chmod 755 "$dir"
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)"
printf '%s\n' "$password" >"$dir/pw"
[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir/pw"
as_owner "$PG_BIN/initdb" -D "$dir/data" -U prflow --pwfile="$dir/pw" -A scram-sha-256 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pw"
# fsync off for tests; max_connections for three replicas and parallel tests.
fsync="${PRFLOW_TEST_PG_FSYNC:-off}"
[[ $fsync == on || $fsync == off ]] || { echo "PRFLOW_TEST_PG_FSYNC=$fsync: use on or off" >&2; exit 2; }
as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=$fsync -c max_connections=300" start >&2 \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "export PRFLOW_TEST_DATABASE_URL=postgres://prflow:$password@127.0.0.1:$port/postgres PRFLOW_TEST_PG_DIR=$dir"
