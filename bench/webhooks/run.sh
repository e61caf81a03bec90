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
#                       PRFLOW_JOURNAL_SYNC=full/normal; `postgres` is one replica
#                       on PostgreSQL, wrk straight at it; `postgres3` is two runs
#                       behind the same round-robin nginx on loopback: one replica
#                       (`prflow_pg1_nginx`, the proxy's cost alone) and three
#                       replicas sharing one database (`prflow_pg3_nginx`).
#                       Each PostgreSQL run gets a new database in the server of
#                       PRFLOW_DATABASE_URL; unset, a throwaway cluster is started
#                       with scripts/start-test-postgres.sh, fsync on (a commit
#                       is durable as with SQLite `full`), and stopped at the end.
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

PG_MODES=0
for m in $MODES; do case $m in postgres*) PG_MODES=1 ;; esac; done
if runs prflow && [ $PG_MODES = 1 ]; then
  command -v psql >/dev/null || { echo "the PostgreSQL modes need psql: apt-get install postgresql-client" >&2; exit 1; }
  if [[ " $MODES " == *" postgres3 "* ]] && ! command -v nginx >/dev/null; then
    if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; else
      echo "MODES=postgres3 needs nginx: sudo apt-get install nginx-light" >&2; exit 1; fi
  fi
fi

SIG="sha256=$(openssl dgst -sha256 -hmac "$SECRET" -hex < "$HERE/payload.json" | awk '{print $NF}')"
PIDS=()
PG_STOP=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ ${#PG_STOP[@]} != 0 ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PRFLOW_TEST_PG_DIR"
  fi
}
trap cleanup EXIT
if runs prflow && [ $PG_MODES = 1 ] && [ -z "${PRFLOW_DATABASE_URL:-}" ]; then
  eval "$(PRFLOW_TEST_PG_FSYNC=on bash "$ROOT/scripts/start-test-postgres.sh")"
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  if [ "$(id -u)" = 0 ]; then PG_STOP=(runuser -u postgres --); fi
  PG_STOP+=("$PG_BIN/pg_ctl" -D "$PRFLOW_TEST_PG_DIR/data" stop -m fast)
  PRFLOW_DATABASE_URL=$PRFLOW_TEST_DATABASE_URL
  echo "PostgreSQL: a throwaway cluster in $PRFLOW_TEST_PG_DIR (fsync on)"
fi

wait_http() { # url
  for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "no answer from $1" >&2; return 1
}
kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }

RESULTS="$OUT/results.txt"
: > "$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
maxkb() { # field pid... : the largest value of the processes
  local f=$1 m=0 v; shift
  for p in "$@"; do v=$(kb "$p" "$f"); [ "$v" -gt "$m" ] && m=$v; done
  echo "$m"
}
bench() { # name pids port path   (pids: one, or several separated by commas: the replicas)
  local name=$1 port=$3 path=$4
  local -a pids; IFS=, read -r -a pids <<< "$2"
  local idle; idle=$(maxkb VmRSS "${pids[@]}")
  local warm
  warm=$(wrk -t2 -c8 -d2s -s "$HERE/wrk.lua" "http://127.0.0.1:$port" -- "$HERE/payload.json" "$SIG" "$path" "warm-$name" | grep '^RESULT')
  echo "$name warmup=8 ${warm#RESULT }" >> "$RESULTS"
  for c in $CONNS; do
    local line
    line=$(wrk -t2 -c"$c" -d"${DUR}s" -s "$HERE/wrk.lua" "http://127.0.0.1:$port" -- "$HERE/payload.json" "$SIG" "$path" "$name-$c" | grep '^RESULT')
    echo "$name conns=$c ${line#RESULT }" | tee -a "$RESULTS"
  done
  # Per replica, the largest of the replicas (the target is per replica).
  echo "$name rss_idle_kb=$idle rss_now_kb=$(maxkb VmRSS "${pids[@]}") rss_peak_kb=$(maxkb VmHWM "${pids[@]}")" | tee -a "$RESULTS"
  if [ ${#pids[@]} -gt 1 ]; then
    local each=""; for p in "${pids[@]}"; do each+=" $(kb "$p" VmHWM)"; done
    echo "$name rss_peak_kb_per_replica=${each# }" | tee -a "$RESULTS"
  fi
}

# Every acknowledged delivery is in the journal (wrk drops the answers of
# requests in flight when it stops, so rows >= acknowledged).
journal_check() { # name rows done
  python3 - "$RESULTS" "$1" "$2" "$3" <<'PY' | tee -a "$RESULTS"
import re, sys
results, name, rows, done = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4] or 0)
acked = sum(int(m.group(1)) for m in re.finditer(rf"^{name} (?:conns|warmup)=\d+ requests=(\d+)", open(results).read(), re.M))
ok = "ok" if rows >= acked else "MISSING DELIVERIES"
print(f"{name} journal_rows={rows} done={done} acknowledged={acked} {ok}")
PY
}

# A new database for one run, in the server of PRFLOW_DATABASE_URL: its URL.
new_database() { # name
  local db
  db="bench_$1_$(date +%s)"
  psql -q -v ON_ERROR_STOP=1 "$PRFLOW_DATABASE_URL" -c "CREATE DATABASE $db" >&2
  python3 - "$PRFLOW_DATABASE_URL" "$db" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(u._replace(path="/" + sys.argv[2])))
PY
}

# The round-robin proxy in front of the replicas: nginx with an upstream of
# their ports, HTTP/1.1 keep-alive to each (as a cloud load balancer does).
start_nginx() { # name ports...
  local name=$1; shift
  local dir; dir=$(mktemp -d)
  chmod 755 "$dir"; mkdir -m 777 "$dir/tmp"
  {
    echo "daemon off; worker_processes auto; pid $dir/nginx.pid; error_log $dir/error.log warn;"
    echo "events { worker_connections 1024; }"
    echo "http { access_log off; client_max_body_size 26m; client_body_buffer_size 64k;"
    echo "  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy; fastcgi_temp_path $dir/tmp/fcgi;"
    echo "  uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;"
    echo "  upstream prflow { $(for p in "$@"; do printf 'server 127.0.0.1:%s; ' "$p"; done) keepalive 64; }"
    echo "  server { listen 127.0.0.1:$PRFLOW_PORT; location / { proxy_pass http://prflow;"
    echo "    proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off; } } }"
  } > "$dir/nginx.conf"
  nginx -p "$dir" -c "$dir/nginx.conf" >"$OUT/$name.nginx.log" 2>&1 &
  NGINX_PID=$!; PIDS+=("$NGINX_PID")
}

# --- prflow serve: journal on (group commit) ---
# SQLite: PRFLOW_JOURNAL_SYNC=full fsyncs every commit (the default; survives
# power loss); normal fsyncs at checkpoints (survives a process crash or kill -9).
# postgres: the journal in a new database of PRFLOW_DATABASE_URL's server;
# `replicas` > 0 puts that many behind nginx on PRFLOW_PORT.
run_prflow() { # name mode [replicas]
  local name=$1 mode=$2 replicas=${3:-0} data sync=full url=""
  data=$(mktemp -d)
  case $mode in
    full|normal) sync=$mode ;;
    postgres) url=$(new_database "$name") ;;
    *) echo "unknown mode $mode (full, normal, postgres, postgres3)" >&2; exit 1 ;;
  esac
  local -a pids=() ports=()
  if [ "$replicas" = 0 ]; then ports=("$PRFLOW_PORT"); else
    for i in $(seq 1 "$replicas"); do ports+=($((PRFLOW_PORT + 10 + i))); done
  fi
  local i=0
  for port in "${ports[@]}"; do
    i=$((i + 1))
    mkdir -p "$data/r$i"
    env ${url:+PRFLOW_DATABASE_URL="$url"} WEBHOOK_SECRET="$SECRET" RUST_LOG=warn LOG_FORMAT=json PRFLOW_JOURNAL_SYNC="$sync" \
      "$PRFLOW_BIN" serve --host 127.0.0.1 --port "$port" \
      --data-dir "$data/r$i" --handler none >"$OUT/$name.r$i.stdout" 2>"$OUT/$name.r$i.log" &
    pids+=($!); PIDS+=($!)
    # One at a time: the first applies the migrations.
    wait_http "http://127.0.0.1:$port/health/live"
  done
  if [ "$replicas" != 0 ]; then
    start_nginx "$name" "${ports[@]}"
    wait_http "http://127.0.0.1:$PRFLOW_PORT/health/live"
  fi
  sleep 1
  bench "$name" "$(IFS=,; echo "${pids[*]}")" "$PRFLOW_PORT" /webhook
  if [ "$replicas" != 0 ]; then kill -TERM "$NGINX_PID"; wait "$NGINX_PID" || true; fi
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  for p in "${pids[@]}"; do wait "$p" || true; done
  if [ -n "$url" ]; then
    local counts
    counts=$(psql -At -F ' ' "$url" -c "select count(*), count(*) filter (where state = 'done') from deliveries")
    journal_check "$name" $counts
    psql -q "$PRFLOW_DATABASE_URL" -c "DROP DATABASE ${url##*/}" >&2 || true
  else
    journal_check "$name" $(python3 -c 'import sqlite3, sys; print(*sqlite3.connect(sys.argv[1]).execute("select count(*), coalesce(sum(state = '"'done'"'), 0) from deliveries").fetchone())' "$data/r1/journal.sqlite3")
  fi
  rm -rf "$data"
}
if runs prflow; then
  for mode in $MODES; do
    case $mode in
      full) run_prflow prflow full ;;
      normal) run_prflow prflow_sync_normal normal ;;
      postgres) run_prflow prflow_postgres postgres ;;
      postgres3)
        run_prflow prflow_pg1_nginx postgres 1
        run_prflow prflow_pg3_nginx postgres 3 ;;
      *) echo "unknown mode $mode (full, normal, postgres, postgres3)" >&2; exit 1 ;;
    esac
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
