# Sourced by scripts/verify-services.sh and scripts/verify-frontend.sh (not run on its
# own): throwaway database servers from Debian's packages for the generated services,
# each on 127.0.0.1 at a free port, each only when its server is installed:
#   PostgreSQL (scripts/start-test-postgres.sh)  -> VERIFY_PG_URL     (DATABASE_URL)
#   MariaDB (mariadb-server)                     -> VERIFY_MYSQL_URL  (MYSQL_URL)
#   Redis (redis-server)                         -> VERIFY_REDIS_URL  (REDIS_URL)
# MongoDB has no Debian package: a MongoDB-backed service runs on its in-memory store.
#
#   start_databases WORK_DIR   # sets the three variables ('' for a server not installed)
#   stop_databases             # stops what start_databases started (by pid / pg_ctl)
#   describe_stores DIR        # one line per services/* of a generated system: its store

VERIFY_PG_URL='' VERIFY_MYSQL_URL='' VERIFY_REDIS_URL=''
_VERIFY_DB_PIDS=() _VERIFY_PG_DIR='' _VERIFY_PG_BIN=''

_verify_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_databases() {
  local work=$1 here port md
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  mkdir -p "$work"
  # PostgreSQL refuses to run as root; start-test-postgres.sh runs it as postgres.
  if ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    _VERIFY_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    local out
    if out=$(bash "$here/start-test-postgres.sh" 2>"$work/postgres.log"); then
      eval "$out"
      _VERIFY_PG_DIR=$PRFLOW_TEST_PG_DIR
      VERIFY_PG_URL=$PRFLOW_TEST_DATABASE_URL
    fi
  fi
  if command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null; then
    md="$work/mariadb"
    mkdir -p "$md"
    port=$(_verify_free_port)
    if mariadb-install-db --user="$(id -un)" --datadir="$md/data" >"$md/install.log" 2>&1; then
      mariadbd --user="$(id -un)" --datadir="$md/data" --socket="$md/sock" --port="$port" --bind-address=127.0.0.1 \
        --skip-grant-tables --skip-log-bin >"$md/server.log" 2>&1 &
      _VERIFY_DB_PIDS+=($!)
      for _ in $(seq 1 60); do mariadb -S "$md/sock" -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
      mariadb -S "$md/sock" -e 'CREATE DATABASE IF NOT EXISTS verify' && VERIFY_MYSQL_URL="mysql://root@127.0.0.1:$port/verify"
    fi
  fi
  if command -v redis-server >/dev/null; then
    port=$(_verify_free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
    _VERIFY_DB_PIDS+=($!)
    for _ in $(seq 1 40); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.25; done
    VERIFY_REDIS_URL="redis://127.0.0.1:$port/0"
  fi
}

stop_databases() {
  local p
  for p in "${_VERIFY_DB_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  _VERIFY_DB_PIDS=()
  if [ -n "$_VERIFY_PG_DIR" ]; then
    runuser -u postgres -- "$_VERIFY_PG_BIN/pg_ctl" -D "$_VERIFY_PG_DIR/data" stop -m fast >/dev/null 2>&1
    rm -rf "$_VERIFY_PG_DIR"
    _VERIFY_PG_DIR=''
  fi
}

# The database of a service the backend-service pack wrote: its package.json says
# "(framework, database)"; the microservices example's own packs are recognised by
# their drivers. Prints nothing for a service that keeps no data.
store_of() {
  local pkg=$1/package.json db
  db=$(sed -n 's/.*"description": ".*(\(.*\), \(.*\))".*/\2/p' "$pkg" 2>/dev/null)
  if [ -z "$db" ]; then
    if grep -q '"pg"' "$pkg" 2>/dev/null; then db=postgresql
    elif grep -q '"mongodb"' "$pkg" 2>/dev/null; then db=mongodb
    fi
  fi
  echo "$db"
}

describe_stores() {
  local dir svc db
  for dir in "$1"/services/*/; do
    svc=$(basename "$dir")
    db=$(store_of "$dir")
    case "$db" in
      postgresql) [ -n "$VERIFY_PG_URL" ] && echo "store $svc: PostgreSQL (DATABASE_URL)" || echo "store $svc: in memory (no PostgreSQL server here)" ;;
      mysql) [ -n "$VERIFY_MYSQL_URL" ] && echo "store $svc: MariaDB (MYSQL_URL)" || echo "store $svc: in memory (no MariaDB server here)" ;;
      redis) [ -n "$VERIFY_REDIS_URL" ] && echo "store $svc: Redis (REDIS_URL)" || echo "store $svc: in memory (no Redis server here)" ;;
      mongodb) echo "store $svc: in memory: MongoDB has no Debian package, so its in-memory store stands in (the MongoDB store itself is unit-tested on a driver fake)" ;;
    esac
  done
}
