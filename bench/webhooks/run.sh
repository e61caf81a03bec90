#!/usr/bin/env bash
# Webhook front-door benchmark: `prflow serve` (every delivery verified,
# parsed and journalled durably with group commit) against a minimal Probot 14
# app (signature verification on, no journal), same payload, same machine,
# loopback only. One command:  bench/webhooks/run.sh [SECONDS_PER_RUN]
#
# Measures deliveries/s and p50/p90/p99/max acknowledgement latency at 8 and 32
# connections (wrk, 2 threads), and resident memory idle and at peak. A third
# contender, node-minimal.js, is the floor for any Node server on this payload.
#
# Environment:
#   CONNS="8 32"        connection counts, each a run of SECONDS_PER_RUN
#   MODES="full normal" prflow journal modes: `full` and `normal` are SQLite with
#                       PRFLOW_JOURNAL_SYNC=full/normal; `postgres` runs serve with
#                       PRFLOW_DATABASE_URL passed through (it must be set)
#   ONLY="prflow probot node_minimal"  which servers to run (all by default)
#   SKIP_BUILD=1        use target/release/prflow as it is
#   PRFLOW_BIN=path     benchmark this prflow binary instead (implies SKIP_BUILD=1),
#                       e.g. a copy of an earlier build, to compare before and after
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DUR=${1:-10}
CONNS=${CONNS:-"8 32"}
MODES=${MODES:-"full normal"}
ONLY=${ONLY:-"prflow probot node_minimal"}
runs() { [[ " $ONLY " == *" $1 "* ]]; }
PRFLOW_PORT=${PRFLOW_PORT:-18411}
PROBOT_PORT=${PROBOT_PORT:-18412}
# Both ports sit below the kernel's ephemeral range (32768+), so a
# client socket of an earlier run can never be holding them.
OUT=$HERE/out
mkdir -p "$OUT"
SECRET="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else
    echo "wrk is missing: sudo apt-get install wrk" >&2; exit 1; fi
fi
[ -f "$HERE/payload.json" ] || python3 "$HERE/make-payload.py"
# Probot from the registry at the version package-lock.json pins (14.x), never vendored.
if runs probot && [ "$(node -p 'require("'"$HERE"'/probot/node_modules/probot/package.json").version' 2>/dev/null | cut -d. -f1)" != 14 ]; then
  (cd "$HERE/probot" && npm ci --no-audit --no-fund)
fi
if [ -z "${PRFLOW_BIN:-}" ]; then
  PRFLOW_BIN=$ROOT/target/release/prflow
  [ "${SKIP_BUILD:-0}" = 1 ] || (cd "$ROOT" && cargo build --release --bin prflow)
fi

SIG="sha256=$(openssl dgst -sha256 -hmac "$SECRET" -hex < "$HERE/payload.json" | awk '{print $NF}')"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_http() { # url
  for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "no answer from $1" >&2; return 1
}
kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }

RESULTS="$OUT/results.txt"
: > "$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
bench() { # name pid port path
  local name=$1 pid=$2 port=$3 path=$4
  local idle; idle=$(kb "$pid" VmRSS)
  local warm
  warm=$(wrk -t2 -c8 -d2s -s "$HERE/wrk.lua" "http://127.0.0.1:$port" -- "$HERE/payload.json" "$SIG" "$path" "warm-$name" | grep '^RESULT')
  echo "$name warmup=8 ${warm#RESULT }" >> "$RESULTS"
  for c in $CONNS; do
    local line
    line=$(wrk -t2 -c"$c" -d"${DUR}s" -s "$HERE/wrk.lua" "http://127.0.0.1:$port" -- "$HERE/payload.json" "$SIG" "$path" "$name-$c" | grep '^RESULT')
    echo "$name conns=$c ${line#RESULT }" | tee -a "$RESULTS"
  done
  echo "$name rss_idle_kb=$idle rss_now_kb=$(kb "$pid" VmRSS) rss_peak_kb=$(kb "$pid" VmHWM)" | tee -a "$RESULTS"
}

# --- prflow serve: journal on (group commit) ---
# SQLite: PRFLOW_JOURNAL_SYNC=full fsyncs every commit (the default; survives
# power loss); normal fsyncs at checkpoints (survives a process crash or kill -9).
# postgres: the journal in PRFLOW_DATABASE_URL's database.
run_prflow() { # name mode
  local name=$1 mode=$2 data sync=full
  local -a env=()
  data=$(mktemp -d)
  case $mode in
    full|normal) sync=$mode ;;
    postgres)
      [ -n "${PRFLOW_DATABASE_URL:-}" ] || { echo "MODES=postgres needs PRFLOW_DATABASE_URL" >&2; exit 1; }
      env=(PRFLOW_DATABASE_URL="$PRFLOW_DATABASE_URL") ;;
    *) echo "unknown mode $mode (full, normal, postgres)" >&2; exit 1 ;;
  esac
  env "${env[@]}" WEBHOOK_SECRET="$SECRET" RUST_LOG=warn LOG_FORMAT=json PRFLOW_JOURNAL_SYNC="$sync" \
    "$PRFLOW_BIN" serve --host 127.0.0.1 --port "$PRFLOW_PORT" \
    --data-dir "$data" --handler none >"$OUT/$name.stdout" 2>"$OUT/$name.log" &
  local pid=$!; PIDS+=("$pid")
  wait_http "http://127.0.0.1:$PRFLOW_PORT/health/live"
  sleep 1
  bench "$name" "$pid" "$PRFLOW_PORT" /webhook
  kill -TERM "$pid"; wait "$pid" || true
  # Every acknowledged delivery is in the journal (wrk drops the answers of
  # requests in flight when it stops, so rows >= acknowledged).
  if [ "$mode" = postgres ]; then
    # The PostgreSQL mode's owner counts its rows here (psql "$PRFLOW_DATABASE_URL").
    echo "$name journal_rows=? not checked for postgres by this script" | tee -a "$RESULTS"
  else
    python3 - "$data/journal.sqlite3" "$RESULTS" "$name" <<'PY' | tee -a "$RESULTS"
import sqlite3, sys, re
rows, done = sqlite3.connect(sys.argv[1]).execute("select count(*), sum(state='done') from deliveries").fetchone()
name = sys.argv[3]
acked = sum(int(m.group(1)) for m in re.finditer(rf"^{name} (?:conns|warmup)=\d+ requests=(\d+)", open(sys.argv[2]).read(), re.M))
ok = "ok" if rows >= acked else "MISSING DELIVERIES"
print(f"{name} journal_rows={rows} done={done} acknowledged={acked} {ok}")
PY
  fi
  rm -rf "$data"
}
if runs prflow; then
  for mode in $MODES; do
    case $mode in full) name=prflow ;; normal) name=prflow_sync_normal ;; *) name=prflow_$mode ;; esac
    run_prflow "$name" "$mode"
  done
fi

# --- minimal Probot 14 app: verification on, no journal ---
if runs probot; then
  KEY=$(openssl genrsa 2048 2>/dev/null)
  (cd "$HERE/probot" && APP_ID=1 PRIVATE_KEY="$KEY" WEBHOOK_SECRET="$SECRET" HOST=127.0.0.1 PORT="$PROBOT_PORT" \
    LOG_LEVEL=warn NODE_ENV=production exec node node_modules/probot/bin/probot.js run ./index.js) \
    >"$OUT/probot.log" 2>&1 &
  PROBOT_PID=$!; PIDS+=("$PROBOT_PID")
  wait_http "http://127.0.0.1:$PROBOT_PORT/"
  sleep 1
  bench probot "$PROBOT_PID" "$PROBOT_PORT" /api/github/webhooks
  kill "$PROBOT_PID"; wait "$PROBOT_PID" 2>/dev/null || true
fi

# --- the floor for Node on this payload: http + HMAC + JSON.parse, nothing else ---
if runs node_minimal; then
  WEBHOOK_SECRET="$SECRET" PORT="$PROBOT_PORT" node "$HERE/node-minimal.js" >"$OUT/node_minimal.log" 2>&1 &
  NODE_PID=$!; PIDS+=("$NODE_PID")
  wait_http "http://127.0.0.1:$PROBOT_PORT/"
  sleep 1
  bench node_minimal "$NODE_PID" "$PROBOT_PORT" /
  kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true
fi

echo
echo "load average before: $LOAD_BEFORE"
echo "| server | conns | deliveries/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | RSS idle MB | RSS peak MB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
python3 - "$RESULTS" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rss = {m[0]: m[1:] for m in re.findall(r"^(\w+) rss_idle_kb=(\d+) rss_now_kb=\d+ rss_peak_kb=(\d+)", t, re.M)}
for m in re.finditer(r"^(\w+) conns=(\d+) requests=\d+ duration_us=\d+ rps=(\d+) p50_ms=([\d.]+) p90_ms=([\d.]+) p99_ms=([\d.]+) max_ms=([\d.]+).*errors_status=(\d+)", t, re.M):
    name, c, rps, p50, p90, p99, mx, bad = m.groups()
    idle, peak = rss.get(name, ("0", "0"))
    print(f"| {name} | {c} | {rps} | {p50} | {p90} | {p99} | {mx} | {bad} | {int(idle)/1024:.1f} | {int(peak)/1024:.1f} |")
PY
