#!/usr/bin/env bash
# Verifies the backend that the microservices workflow generates (issue 7):
#   1. npm install at the generated root (npm workspaces)
#   2. npm test: every service's unit tests, each failing below 85% line coverage
#   3. a throwaway PostgreSQL (Debian's package; installed if missing), and the
#      integration tests of every service that uses it (user-service, auth-service),
#      each in a database of its own, schema from the service's migrations
#   4. the shared service library is byte-identical in every service
# Prints one summary line per step and exits non-zero if any step failed.
#
# usage: scripts/verify-backend.sh <generated-system-dir>
# Runs on a fresh Debian machine as root (PostgreSQL runs as the postgres user) or as
# a normal user with PostgreSQL already installed.
set -uo pipefail

DIR="${1:-}"
if [[ -z "$DIR" || ! -f "$DIR/package.json" ]]; then
  echo "usage: $0 <dir>   (the directory where prflow rendered the workflow; it must hold package.json)" >&2
  exit 2
fi
DIR="$(cd "$DIR" && pwd)"
MIN_LINES="${MIN_LINES:-85}"
SUMMARY=()
FAILED=0
PG_TMP=""
PG_BIN=""
LOGS="$(mktemp -d /tmp/verify-backend-logs.XXXXXX)"

log() { printf '[verify-backend] %s\n' "$*"; }
record() { # record <ok|FAIL|SKIP> <step> <detail>
  SUMMARY+=("$(printf '%-4s %-34s %s' "$1" "$2" "$3")")
  [[ "$1" == FAIL ]] && FAILED=1
  log "$1 $2 $3"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
apt_install() {
  log "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

cleanup() {
  if [[ -n "$PG_TMP" && -d "$PG_TMP" ]]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: as root, run its tools as the postgres user.
pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# --- 0. node and npm -------------------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm || { record FAIL "node/npm" "not installed and apt-get failed"; exit 1; }
fi
log "node $(node --version), npm $(npm --version 2>/dev/null), in $DIR"

# --- 1. npm install --------------------------------------------------------------
t=$(now)
if (cd "$DIR" && npm install --no-audit --no-fund --loglevel=error >"$LOGS/npm-install.log" 2>&1); then
  record ok "npm install" "($(elapsed "$t"))"
else
  record FAIL "npm install" "($(elapsed "$t")); see $LOGS/npm-install.log"
  tail -30 "$LOGS/npm-install.log"
fi

# --- 2. npm test + coverage per service ------------------------------------------
t=$(now)
if (cd "$DIR" && npm test >"$LOGS/npm-test.log" 2>&1); then
  record ok "npm test" "($(elapsed "$t"))"
else
  record FAIL "npm test" "($(elapsed "$t")); see $LOGS/npm-test.log"
  grep -E "^not ok|# fail|ERROR: Coverage" "$LOGS/npm-test.log" | head -30
fi
grep -E "^(PASS|FAIL) " "$LOGS/npm-test.log" | sed 's/^/[verify-backend]   /'
for svc in "$DIR"/services/*/; do
  name="$(basename "$svc")"
  summary="$svc/coverage/coverage-summary.json"
  if [[ ! -f "$summary" ]]; then
    record FAIL "coverage $name" "no coverage/coverage-summary.json (did its tests run?)"
    continue
  fi
  pct="$(node -e 'console.log(require(process.argv[1]).total.lines.pct)' "$summary")"
  if awk -v p="$pct" -v m="$MIN_LINES" 'BEGIN { exit !(p >= m) }'; then
    record ok "coverage $name" "lines ${pct}% (>= ${MIN_LINES}%)"
  else
    record FAIL "coverage $name" "lines ${pct}% (< ${MIN_LINES}%)"
  fi
done
if grep -q "SKIPPED:" "$LOGS/npm-test.log"; then
  grep -h "SKIPPED:" "$LOGS/npm-test.log" | sed 's/^# *//' | sort -u | while read -r line; do log "note: $line"; done
fi

# --- 3. PostgreSQL + integration tests of the services that use it -----------------
# Every service that depends on `pg` and has a test:integration script gets a
# database of its own on one throwaway cluster.
PG_SERVICES=()
for svc in "$DIR"/services/*/; do
  [[ -f "$svc/package.json" ]] || continue
  if node -e 'const p=require(process.argv[1]); process.exit((p.dependencies||{}).pg && (p.scripts||{})["test:integration"] ? 0 : 1)' "$svc/package.json"; then
    PG_SERVICES+=("$(basename "$svc")")
  fi
done
if [[ ${#PG_SERVICES[@]} -eq 0 ]]; then
  record SKIP "postgresql integration" "no generated service uses PostgreSQL"
else
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [[ -z "$PG_BIN" ]]; then
    apt_install postgresql || true
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  fi
  if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
    record FAIL "postgresql" "not installed and 'apt-get install -y postgresql' failed"
  else
    t=$(now)
    PG_TMP="$(mktemp -d /tmp/verify-backend-pg.XXXXXX)"
    chmod 755 "$PG_TMP"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$PG_TMP"
    PG_PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    if pg_as_owner "$PG_BIN/initdb" -D "$PG_TMP/data" -A trust -U postgres >"$PG_TMP/initdb.log" 2>&1 &&
      pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_TMP -c fsync=off" start >/dev/null 2>&1; then
      record ok "postgresql $(basename "$(dirname "$PG_BIN")")" "on 127.0.0.1:$PG_PORT ($(elapsed "$t"))"
      for name in "${PG_SERVICES[@]}"; do
        t=$(now)
        db="$(echo "${name}_it" | tr -c 'a-z0-9_\n' '_')"
        log="$LOGS/integration-$name.log"
        if ! pg_as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$db" >"$log" 2>&1; then
          record FAIL "$name integration" "createdb $db failed; see $log"
          continue
        fi
        if (cd "$DIR/services/$name" && DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$db" npm run test:integration >>"$log" 2>&1) &&
          ! grep -q "SKIPPED" "$log"; then
          passed="$(grep -E '^# pass' "$log" | awk '{print $3}')"
          record ok "$name integration" "${passed} tests against PostgreSQL ($(elapsed "$t"))"
        else
          record FAIL "$name integration" "($(elapsed "$t")); see $log"
          grep -E "^not ok|# fail|SKIPPED|Error" "$log" | head -20
        fi
      done
      # The deployment pack points every PostgreSQL service (auth-service included) at
      # one database: their migrations must coexist there, and a second run apply nothing.
      if [[ ${#PG_SERVICES[@]} -gt 1 ]]; then
        t=$(now)
        log="$LOGS/shared-database.log"
        url="postgres://postgres@127.0.0.1:$PG_PORT/shared_it"
        ok=1
        pg_as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres shared_it >"$log" 2>&1 || ok=0
        for round in 1 2; do
          for name in "${PG_SERVICES[@]}"; do
            [[ $ok -eq 1 ]] || break
            echo "--- $name, round $round" >>"$log"
            out="$(cd "$DIR/services/$name" && DATABASE_URL="$url" npm run --silent migrate 2>&1)" || ok=0
            echo "$out" >>"$log"
            # round 1 applies this service's migrations; round 2 finds nothing to do
            if [[ $round -eq 1 && "$out" != *"applied:"* ]] || [[ $round -eq 2 && "$out" != *"up to date"* ]]; then
              echo "unexpected answer from $name in round $round" >>"$log"
              ok=0
            fi
          done
        done
        if [[ $ok -eq 1 ]]; then
          record ok "shared database" "${PG_SERVICES[*]} migrate one database, twice ($(elapsed "$t"))"
        else
          record FAIL "shared database" "migrating ${PG_SERVICES[*]} into one database failed; see $log"
          tail -20 "$log"
        fi
      fi
    else
      record FAIL "postgresql" "could not start (initdb and server log below)"
      cat "$PG_TMP/initdb.log" "$PG_TMP/server.log" 2>/dev/null | tail -20
    fi
  fi
fi

# --- 4. the shared library is the same in every service of one framework ----------
# (src/lib/http.js adapts the shared pipeline to express or to fastify; the rest of
# src/lib is one copy everywhere.)
framework_of() { grep -o "require('fastify')\|require('express')" "$1/http.js" 2>/dev/null | head -1 | tr -dc 'a-z' | sed 's/^require//'; }
declare -A first_of=()
drift=""
libs=0
for lib in "$DIR"/services/*/src/lib; do
  [[ -d "$lib" ]] || continue
  libs=$((libs + 1))
  fw="$(framework_of "$lib")"
  fw="${fw:-none}"
  if [[ -z "${first_of[$fw]:-}" ]]; then first_of[$fw]="$lib"; continue; fi
  if ! diff -rq "${first_of[$fw]}" "$lib" >/dev/null; then drift+=" $(basename "$(dirname "$(dirname "$lib")")") ($fw)"; fi
done
if [[ $libs -eq 0 ]]; then
  record SKIP "shared lib identical" "no services"
elif [[ -z "$drift" ]]; then
  record ok "shared lib identical" "src/lib is the same in every service of each framework (${!first_of[*]})"
else
  record FAIL "shared lib identical" "src/lib differs from the first service of its framework in:$drift"
fi

echo
echo "verify-backend summary ($DIR; logs in $LOGS)"
printf '  %s\n' "${SUMMARY[@]}"
exit "$FAILED"
