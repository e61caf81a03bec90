#!/usr/bin/env bash
# Runs the generated system for real and checks it from the outside (issue 7, "Must
# work" 4–6): builds the frontend, starts everything with `npm run dev`, runs the
# Playwright e2e test on Debian's chromium (screenshot kept), the integration tests
# through the gateway, then restarts with a load-test rate limit and runs the load
# script, printing its p95 and req/s. Everything it starts is stopped on exit.
#
# Usage: scripts/verify-frontend.sh GENERATED_DIR
#        scripts/verify-frontend.sh --examples [WORKFLOW...]
#
# --examples renders each workflow (default: examples/ecommerce, social and iot, one
# frontend each: React + Material UI, Vue + Tailwind, Svelte + Bootstrap) with prflow
# (`prflow run` and `prflow approve` until every phase is done) and, for every app
# under frontend/ of the last phase, installs it alone (npm's shared cache, no
# lockfile), runs its unit tests (vitest), builds it (vite) and runs its browser test
# (playwright-core + Debian's chromium) against the app's in-memory stand-in for the
# gateway.
# Env (--examples): PRFLOW_BIN (default target/debug/prflow), VERIFY_OUT.
# Env:   VERIFY_OUT (artifacts: logs, screenshot, load.json; default /tmp/prflow-verify-frontend)
#        VERIFY_STEPS (default "build e2e integration load"): the steps to run;
#        LOAD_DURATION, LOAD_CONNECTIONS, LOAD_LOG_LEVEL (default warn) for the load run;
#        VERIFY_LOAD_STRICT=0 records the load numbers without failing when a threshold
#        is missed (a load that measured nothing still fails).
#        VERIFY_DATABASES=1: the services keep their data in real databases, started
#        for the live part from Debian's packages (PostgreSQL, MariaDB, Redis:
#        scripts/verify-databases.sh) and passed as DATABASE_URL / MYSQL_URL / REDIS_URL;
#        a MongoDB-backed service runs on its in-memory store (no Debian package), and
#        the output says so. Default 0: every service on its in-memory store.
#        VERIFY_NETNS=auto|1|0: run the live part in a private network namespace
#        (`unshare --net`, loopback only, its own ports) — `auto` (default) does so
#        whenever unshare works (root), so a developer's own `npm run dev` on the same
#        ports never collides with this check, and no test traffic leaves loopback.
set -uo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
if [ "${1:-}" = --examples ]; then
  shift
  exec bash "$(dirname "$SELF")/verify-frontend-examples.sh" "$@"
fi
DIR=${1:?usage: scripts/verify-frontend.sh GENERATED_DIR}
DIR=$(cd "$DIR" && pwd) || { echo "verify-frontend: $1 is not a directory" >&2; exit 2; }
OUT=${VERIFY_OUT:-${TMPDIR:-/tmp}/prflow-verify-frontend}
mkdir -p "$OUT"
GATEWAY_URL=${GATEWAY_URL:-http://localhost:8080}
FRONTEND_URL=${FRONTEND_URL:-http://localhost:3000}
export GATEWAY_URL FRONTEND_URL
PORTS=(3000 3001 3002 3003 8080)

passed=0
failed=0
results=()
step() { # NAME CMD... : runs, records ok/FAIL, never exits
  local name=$1; shift
  echo "=== $name"
  if "$@"; then
    results+=("ok   $name"); passed=$((passed + 1))
  else
    results+=("FAIL $name"); failed=$((failed + 1))
  fi
}
summary() {
  echo "=== summary"
  printf '%s\n' "${results[@]}"
  echo "artifacts: $OUT"
  echo "verify-frontend: $passed passed, $failed failed"
}

DEV_PID=
stop_dev() {
  if [ -n "$DEV_PID" ]; then
    # The dev runner leads its own process group (setsid): stop the whole group, give
    # it 10 s to exit cleanly (`kill -0 -PGID` is true while any member lives), then kill.
    kill -TERM -- "-$DEV_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 -- "-$DEV_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$DEV_PID" 2>/dev/null
    wait "$DEV_PID" 2>/dev/null
  fi
  DEV_PID=
}
trap 'stop_dev' EXIT
trap 'stop_dev; exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_dev() { # LOGFILE [ENV=VALUE...]
  local log=$1; shift
  for p in "${PORTS[@]}"; do
    if port_busy "$p"; then
      echo "verify-frontend: port $p is already in use; stop whatever listens there first" >&2
      return 1
    fi
  done
  (cd "$DIR" && exec env "$@" setsid npm run dev >"$log" 2>&1) &
  DEV_PID=$!
  # setsid runs npm as the leader of a new process group whose id is its pid; the
  # subshell above execs into setsid, which execs npm (setsid forks only when it is
  # already a group leader, which a background subshell is not).
  local deadline=$((SECONDS + 90))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$DEV_PID" 2>/dev/null; then
      echo "verify-frontend: npm run dev exited early; last lines of $log:" >&2
      tail -30 "$log" >&2
      DEV_PID=
      return 1
    fi
    if curl -fsS -o /dev/null "$GATEWAY_URL/health/ready" 2>/dev/null \
      && curl -fsS -o /dev/null "$FRONTEND_URL/" 2>/dev/null; then
      echo "system up (gateway $GATEWAY_URL, frontend $FRONTEND_URL); log: $log"
      return 0
    fi
    sleep 0.5
  done
  echo "verify-frontend: the system was not ready after 90 s; last lines of $log:" >&2
  tail -30 "$log" >&2
  return 1
}

need() { command -v "$1" >/dev/null 2>&1; }
need node || { echo "verify-frontend: node is required" >&2; exit 2; }
need curl || { apt-get install -y -qq curl >/dev/null 2>&1 || { echo "verify-frontend: curl is required" >&2; exit 2; }; }
for f in package.json tests/package.json; do
  [ -f "$DIR/$f" ] || { echo "verify-frontend: $DIR/$f is missing (render all three phases first)" >&2; exit 2; }
done
# Every app the frontend packs wrote (frontend/react-app, vue-app or svelte-app).
mapfile -t APPS < <(cd "$DIR" && ls -d frontend/*/ 2>/dev/null | sed 's#/$##' | while read -r d; do [ -f "$d/package.json" ] && echo "$d"; done)
if [ ${#APPS[@]} -eq 0 ]; then
  echo "verify-frontend: $DIR/frontend/ holds no app (no frontend/*/package.json): render all three phases first" >&2
  exit 2
fi
if [ ! -f "$DIR/services/api-gateway/package.json" ]; then
  echo "verify-frontend: $DIR/services/api-gateway is missing: the backend (phase 2) is needed to run the system" >&2
  exit 2
fi

# Debian's chromium for playwright-core (no browser download).
CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
export CHROMIUM_PATH
if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "=== installing chromium (apt)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$OUT/apt.log" 2>&1 \
    || { echo "verify-frontend: apt-get install chromium failed, see $OUT/apt.log" >&2; exit 2; }
fi

cd "$DIR" || exit 2
STEPS=" ${VERIFY_STEPS:-build e2e integration load} "
has() { [[ "$STEPS" == *" $1 "* ]]; }
if [ "${_VERIFY_LIVE_ONLY:-0}" != 1 ]; then
if [ ! -d node_modules ] || [ ! -e node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  step "npm install" npm install --no-audit --no-fund --loglevel=error
fi
if has build; then
  for app in "${APPS[@]}"; do
    step "$app unit tests (vitest)" npm test --workspace "$app"
    step "$app build (vite)" npm run build --workspace "$app"
  done
fi

# The live part needs five fixed ports: run it in a private network namespace when
# possible (only loopback, its own port space), else on this host's ports.
netns=${VERIFY_NETNS:-auto}
if [ "$netns" = auto ]; then
  if unshare --net true 2>/dev/null && command -v ip >/dev/null; then netns=1; else netns=0; fi
fi
if [ "$netns" = 1 ]; then
  echo "=== live checks (unshare --net, loopback only)"
  if unshare --net bash -c 'ip link set lo up && exec env _VERIFY_LIVE_ONLY=1 VERIFY_NETNS=0 VERIFY_STEPS="$2" VERIFY_OUT="$3" bash "$0" "$1"' "$SELF" "$DIR" "$STEPS" "$OUT"; then
    results+=("ok   live checks in a private network namespace (see above)"); passed=$((passed + 1))
  else
    results+=("FAIL live checks in a private network namespace (see above)"); failed=$((failed + 1))
  fi
  summary
  [ "$failed" -eq 0 ]
  exit
fi
fi

if [ "${VERIFY_DATABASES:-0}" = 1 ] && { has e2e || has integration || has load; }; then
  echo "=== databases (scripts/verify-databases.sh)"
  . "$(dirname "$SELF")/verify-databases.sh"
  trap 'stop_dev; stop_databases' EXIT
  trap 'stop_dev; stop_databases; exit 130' INT TERM
  start_databases "$OUT/databases"
  # Each service reads only its own database's variable (see deployment/README.md).
  [ -n "$VERIFY_PG_URL" ] && export DATABASE_URL=$VERIFY_PG_URL
  [ -n "$VERIFY_MYSQL_URL" ] && export MYSQL_URL=$VERIFY_MYSQL_URL
  [ -n "$VERIFY_REDIS_URL" ] && export REDIS_URL=$VERIFY_REDIS_URL
  stores=$(describe_stores "$DIR")
  printf '%s\n' "$stores"
  while IFS= read -r line; do
    case "$line" in
      *"server here)"*)
        # CI installs every packaged server: there a missing one is a broken setup.
        if [ "${CI:-}" = true ]; then results+=("FAIL $line"); failed=$((failed + 1)); else results+=("note $line"); fi ;;
      *) results+=("note $line") ;;
    esac
  done <<<"$stores"
fi

SHOT="$OUT/products.png"
if has e2e || has integration; then
  rm -f "$SHOT"
  if start_dev "$OUT/dev.log"; then
    if has e2e && node -e 'process.exit(require("./tests/package.json").scripts["test:e2e"] ? 0 : 1)'; then
      step "e2e (Playwright, $CHROMIUM_PATH)" env E2E_SCREENSHOT="$SHOT" npm run test:e2e --workspace tests
      [ -f "$SHOT" ] && echo "screenshot: $SHOT"
    elif has e2e; then
      # No browser test in tests/ (it is the microservices example's): each app's own
      # page test, against the running gateway (GATEWAY_URL) instead of its stand-in.
      for app in "${APPS[@]}"; do
        step "e2e $app pages through the gateway (Playwright)" env E2E_SCREENSHOTS="$OUT/screenshots" npm run test:e2e --workspace "$app"
      done
    fi
    has integration && step "integration tests through the gateway" npm run test:integration --workspace tests
    stop_dev
  else
    results+=("FAIL npm run dev (default settings)"); failed=$((failed + 1))
    stop_dev
  fi
fi

if has load; then
  # The load test measures the gateway, not its rate limiter: lift the limit, and log
  # at warn so the dev runner's log pipe is not what is measured.
  if start_dev "$OUT/dev-load.log" RATE_LIMIT_MAX=100000000 LOG_LEVEL="${LOAD_LOG_LEVEL:-warn}"; then
    if [ "${VERIFY_LOAD_STRICT:-1}" = 1 ]; then
      step "load (autocannon through the gateway)" bash -c 'set -o pipefail; npm run --silent test:load --workspace tests | tee "$0"' "$OUT/load.txt"
    else
      echo "=== load (autocannon through the gateway; VERIFY_LOAD_STRICT=0: numbers only)"
      if bash -c 'set -o pipefail; npm run --silent test:load --workspace tests | tee "$0"' "$OUT/load.txt"; then
        results+=("ok   load (within the thresholds)")
      elif grep -q '^LOAD_RESULT ' "$OUT/load.txt"; then
        results+=("note load below a threshold, not counted (VERIFY_LOAD_STRICT=0)")
      else
        results+=("FAIL load (no measurement)"); failed=$((failed + 1))
      fi
    fi
    grep '^LOAD_RESULT ' "$OUT/load.txt" 2>/dev/null | sed 's/^LOAD_RESULT //' >"$OUT/load.json"
    stop_dev
  else
    results+=("FAIL npm run dev (load settings)"); failed=$((failed + 1))
    stop_dev
  fi
fi

summary
[ "$failed" -eq 0 ]
