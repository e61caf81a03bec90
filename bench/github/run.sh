#!/usr/bin/env bash
# Issue 4's numbers against `prflow sim` on loopback (release binary):
#   - API calls per phase for a new phase (PR, reviewers, gates, status), and for a
#     re-run with nothing new (must be 0 writes);
#   - rate-limit points per phase (issue 16), as the simulator counts them like GitHub:
#     every call but a 304 answer to `If-None-Match` (prflow keeps ETags beside its clone);
#   - the microservices workflow's three phases, approvals included, wall time.
#
#   bench/github/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${PRFLOW_BIN:-target/release/prflow}"
[ -x "$BIN" ] || cargo build --release --quiet
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
T="$(mktemp -d "${TMPDIR:-/tmp}/prflow-gh-bench.XXXXXX")"
SIM_PID=""
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

git init -q -b main "$T/repo"
mkdir -p "$T/repo/.prflow"
cp examples/microservices-workflow.json "$T/repo/.prflow/workflow.json"
git -C "$T/repo" add . && git -C "$T/repo" -c user.name=B -c user.email=b@example.com commit -qm init

"$BIN" sim --repo "acme/shop=$T/repo" > "$T/sim.json" 2>"$T/sim.log" &
SIM_PID=$!
for _ in $(seq 100); do [ -s "$T/sim.json" ] && break; sleep 0.1; done
API=$(python3 -c "import json,sys; print(json.load(open('$T/sim.json'))['api_url'])")
user() { curl -sf -X POST "$API/_sim/users" -d "{\"login\": \"$1\", \"permission\": \"write\"}" | python3 -c "import json,sys; print(json.load(sys.stdin)['token'])"; }
BOB=$(user bob)
# The App's installation token, as `prflow serve` and the Action use (a person's
# token cannot create check runs on GitHub, so token mode falls back to statuses).
APP_ID=$(python3 -c "import json; print(json.load(open('$T/sim.json'))['app_id'])")
INST=$(python3 -c "import json; print(json.load(open('$T/sim.json'))['installation_id'])")
KEY=$(python3 -c "import json; print(json.load(open('$T/sim.json'))['private_key_path'])")
b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
NOW=$(date +%s)
HEADER=$(printf '{"alg":"RS256","typ":"JWT"}' | b64)
PAYLOAD=$(printf '{"iat":%d,"exp":%d,"iss":"%s"}' $((NOW - 30)) $((NOW + 500)) "$APP_ID" | b64)
SIG=$(printf '%s.%s' "$HEADER" "$PAYLOAD" | openssl dgst -sha256 -sign "$KEY" | b64)
BOT=$(curl -sf -X POST -H "Authorization: Bearer $HEADER.$PAYLOAD.$SIG" "$API/app/installations/$INST/access_tokens" | python3 -c "import json,sys; print(json.load(sys.stdin)['token'])")

used() { curl -sf -H "Authorization: Bearer $BOT" "$API/rate_limit" | python3 -c "import json,sys; print(json.load(sys.stdin)['rate']['used'])"; }
# Rate-limit points the last `run` spent (the simulator's x-ratelimit-used before and after).
points() { echo "  rate-limit points: $(( $(used) - $1 ))"; }
run() { GITHUB_TOKEN="$BOT" PRFLOW_STARTER=alice "$BIN" run .prflow/workflow.json --github acme/shop --api-url "$API" --repo "$T/work" --json; }
calls() { python3 -c "
import json,sys
r=json.load(open(sys.argv[1]))
for label,reads,writes in r['api_calls']: print(f'  {label}: {reads} reads, {writes} writes ({reads+writes} calls)')
print('  total:', sum(c[1] for c in r['api_calls']), 'reads,', sum(c[2] for c in r['api_calls']), 'writes')
" "$1"; }
approve() {
  local n head
  n=$(python3 -c "import json; print(json.load(open('$1'))['pull_request_number'])")
  head=$(curl -sf -H "Authorization: Bearer $BOB" "$API/repos/acme/shop/pulls/$n" | python3 -c "import json,sys; print(json.load(sys.stdin)['head']['sha'])")
  curl -sf -H "Authorization: Bearer $BOB" -X POST "$API/repos/acme/shop/pulls/$n/reviews" -d "{\"event\": \"APPROVE\", \"commit_id\": \"$head\"}" >/dev/null
}

start=$(date +%s.%N)
u=$(used); run > "$T/r1.json"; echo "phase 1 (new): $(python3 -c "import json; print(json.load(open('$T/r1.json'))['state'])")"; calls "$T/r1.json"; points "$u"
u=$(used); run > "$T/r1b.json"; echo "phase 1 again, nothing new:"; calls "$T/r1b.json"; points "$u"
u=$(used); run > "$T/r1c.json"; echo "phase 1 a third time, nothing new:"; calls "$T/r1c.json"; points "$u"
approve "$T/r1.json"
u=$(used); run > "$T/r2.json"; echo "after approval → phase 2:"; calls "$T/r2.json"; points "$u"
u=$(used); run > "$T/r2b.json"; echo "phase 2 again, nothing new:"; calls "$T/r2b.json"; points "$u"
approve "$T/r2.json"
u=$(used); run > "$T/r3.json"; echo "after approval → phase 3:"; calls "$T/r3.json"; points "$u"
approve "$T/r3.json"
run > "$T/r4.json"; echo "after approval → $(python3 -c "import json; print(json.load(open('$T/r4.json'))['state'])")"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "microservices workflow, 3 phases + approvals against the simulator: %.2f s wall (agents and gates included)\n", b - a }'
echo "peter-evans/create-pull-request (for comparison, from its source): new PR 4 API calls + 2 git round trips; re-run with nothing changed 6 calls, 4 of them writes"
