#!/usr/bin/env bash
# End-to-end check of issue 7 (and 15): prflow renders a workflow (default claude-flow's
# microservices example; WORKFLOW= another, e.g. examples/ecommerce-workflow.json),
# phase by phase, into a system that actually runs.
#
#   1. tools: git, curl, python3-venv, node >= 20.19 + npm, chromium, PostgreSQL, iproute2
#      (one apt-get install of whatever is missing; as root or with passwordless sudo)
#   2. prflow: `cargo build --release`, unless PRFLOW_BIN names a binary
#   3. render: a scratch git repository holding the workflow, `prflow run` (phase 1),
#      `prflow approve` until no checkpoint waits (the local flow)
#   4. the last phase branch checked out into a work tree (git worktree)
#   5. scripts/verify-backend.sh  (npm install, unit tests + coverage, PostgreSQL integration)
#   6. scripts/verify-static.sh   (compose schema, k8s schemas, OpenAPI, Dockerfile lint)
#   7. scripts/verify-frontend.sh (frontend tests + build, e2e, integration through the
#      gateway, load with VERIFY_LOAD_STRICT=0: numbers recorded, a missed threshold on a
#      busy machine is not a failure; a load run that measured nothing is). For a
#      workflow other than the microservices example the services keep their data in
#      real databases (VERIFY_DATABASES=1: PostgreSQL, MariaDB, Redis from Debian; a
#      MongoDB-backed service on its in-memory store, as the log says), and a frontend
#      without the example's own browser test runs its page test through the gateway.
#
# Prints one line per step and ends with the plain line `N passed, N failed` (what CI
# counts). Exit status 1 when a step failed, 2 when the arguments are wrong.
#
# usage: scripts/verify-generated.sh [WORK_DIR]
#   WORK_DIR (default: a new /tmp/prflow-verify-generated.XXXXXX) receives the scratch
#   repository (repo/), the work tree (tree/) and every step's log (logs/).
# env:   WORKFLOW        the workflow to render (default examples/microservices-workflow.json)
#        PRFLOW_BIN      use this prflow binary instead of building one
#        VERIFY_KEEP=0   delete WORK_DIR at the end when every step passed
#        VERIFY_STEPS_GENERATED (default "backend static frontend"): which checks to run
#        VERIFY_DATABASES (default 0 for the microservices example, else 1): see 7.
#        PRFLOW_TOOLS, VERIFY_NETNS, LOAD_DURATION, LOAD_CONNECTIONS pass through to the
#        scripts above.
set -uo pipefail

# The whole script is one function, parsed before it runs: editing this file while a
# (15-minute) check is running cannot change what that run executes.
main() {

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEFAULT_WORKFLOW="$ROOT/examples/microservices-workflow.json"
WORKFLOW=${WORKFLOW:-$DEFAULT_WORKFLOW}
if [ ! -f "$WORKFLOW" ]; then
  echo "verify-generated: WORKFLOW=$WORKFLOW is not a file (e.g. WORKFLOW=examples/ecommerce-workflow.json)" >&2
  exit 2
fi
WORKFLOW=$(cd "$(dirname "$WORKFLOW")" && pwd)/$(basename "$WORKFLOW")
WF_FILE=$(basename "$WORKFLOW")
if [ "$WORKFLOW" -ef "$DEFAULT_WORKFLOW" ]; then DATABASES=${VERIFY_DATABASES:-0}; else DATABASES=${VERIFY_DATABASES:-1}; fi
if [ $# -gt 1 ]; then
  echo "usage: $0 [WORK_DIR]" >&2
  exit 2
fi
if [ $# -eq 1 ]; then
  WORK=$1
  if [ -e "$WORK" ] && [ -n "$(ls -A "$WORK" 2>/dev/null)" ]; then
    echo "verify-generated: $WORK exists and is not empty; give a new or empty directory" >&2
    exit 2
  fi
  mkdir -p "$WORK" || exit 2
else
  WORK=$(mktemp -d /tmp/prflow-verify-generated.XXXXXX)
fi
WORK=$(cd "$WORK" && pwd)
LOGS="$WORK/logs"
REPO="$WORK/repo"
TREE="$WORK/tree"
mkdir -p "$LOGS"
STEPS=" ${VERIFY_STEPS_GENERATED:-backend static frontend} "

passed=0
failed=0
lines=()
START=$(date +%s.%N)
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
# record ok|FAIL NAME DETAIL: one summary line per step, printed at once and again at the end
record() {
  local line
  line=$(printf '%-4s %-28s %s' "$1" "$2" "$3")
  lines+=("$line")
  echo "$line"
  if [ "$1" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# show_log FILE: the end of a failed step's log, indented
show_log() { tail -n "${2:-40}" "$1" 2>/dev/null | sed 's/^/     | /'; }
finish() {
  echo
  echo "verify-generated summary (work dir $WORK, $(secs "$START") in all)"
  printf '%s\n' "${lines[@]}"
  if [ "$failed" -eq 0 ] && [ "${VERIFY_KEEP:-1}" = 0 ]; then
    git -C "$REPO" worktree remove --force "$TREE" >/dev/null 2>&1
    rm -rf "$WORK"
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
have() { command -v "$1" >/dev/null 2>&1; }

# --- 1. tools ------------------------------------------------------------------------
t=$(now)
pkgs=()
have git || pkgs+=(git)
have curl || pkgs+=(curl ca-certificates)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || pkgs+=(python3 python3-venv)
have node || pkgs+=(nodejs)
have npm || pkgs+=(npm)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || pkgs+=(chromium)
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || pkgs+=(postgresql)
have ip || pkgs+=(iproute2)
tools_ok=1
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "verify-generated: installing ${pkgs[*]} with apt-get"
  if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"; } \
    >"$LOGS/apt.log" 2>&1; then
    record FAIL "tools" "apt-get install ${pkgs[*]} failed ($LOGS/apt.log)"
    show_log "$LOGS/apt.log" 15
    tools_ok=0
  fi
fi
if [ "$tools_ok" = 1 ]; then
  # Vite (the generated frontend) needs Node 20.19+; Debian 12's own nodejs is 18.
  node_v=$(node -p 'process.versions.node' 2>/dev/null || echo 0)
  if node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
    record ok "tools" "node $node_v, npm $(npm --version 2>/dev/null), $(git --version | awk '{print "git " $3}') ($(secs "$t"))"
  else
    record FAIL "tools" "node $node_v is too old: the generated frontend (Vite) needs Node >= 20.19 (Debian 12 ships 18; install Node 20.19+ or 22, e.g. from NodeSource)"
    tools_ok=0
  fi
fi

# --- 2. prflow -----------------------------------------------------------------------
t=$(now)
if [ -n "${PRFLOW_BIN:-}" ]; then
  PRFLOW=$PRFLOW_BIN
  if [ -x "$PRFLOW" ]; then
    PRFLOW=$(cd "$(dirname "$PRFLOW")" && pwd)/$(basename "$PRFLOW") # render() runs in the scratch repo
    record ok "prflow" "PRFLOW_BIN=$PRFLOW"
  else
    record FAIL "prflow" "PRFLOW_BIN=$PRFLOW is not an executable file"
    finish
  fi
else
  PRFLOW="${CARGO_TARGET_DIR:-$ROOT/target}/release/prflow"
  if (cd "$ROOT" && cargo build --release --bin prflow) >"$LOGS/cargo-build.log" 2>&1 && [ -x "$PRFLOW" ]; then
    record ok "prflow" "cargo build --release ($(secs "$t"))"
  else
    record FAIL "prflow" "cargo build --release failed ($LOGS/cargo-build.log)"
    show_log "$LOGS/cargo-build.log" 30
    finish
  fi
fi

# --- 3. render the three phases ------------------------------------------------------
t=$(now)
# The phases `prflow plan` announces: the render must end with that many branches.
phases=$("$PRFLOW" plan "$WORKFLOW" --format json 2>/dev/null | node -e '
  let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
    try { console.log(JSON.parse(s).phases.length); } catch { console.log(0); }
  });' 2>/dev/null)
render() {
  git init -q -b main "$REPO" &&
    cp "$WORKFLOW" "$REPO/$WF_FILE" &&
    git -C "$REPO" add "$WF_FILE" &&
    git -C "$REPO" -c user.name="prflow verify" -c user.email=verify@prflow.invalid \
      commit -q -m "the workflow" &&
    (cd "$REPO" && "$PRFLOW" run "$WF_FILE" --repo .) || return 1
  # One approval per checkpoint: phases - 1 of them.
  local i
  for i in $(seq 2 "${phases:-0}"); do
    "$PRFLOW" approve --repo "$REPO" || return 1
  done
}
if ! render >"$LOGS/render.log" 2>&1; then
  record FAIL "render ($WF_FILE)" "($(secs "$t")); see $LOGS/render.log"
  show_log "$LOGS/render.log" 30
  finish
fi
mapfile -t branches < <(git -C "$REPO" for-each-ref --format='%(refname:short)' 'refs/heads/prflow/' | sort)
last=${branches[${#branches[@]}-1]:-}
if [ "${phases:-0}" -lt 1 ] || [ ${#branches[@]} -ne "$phases" ] || [[ "$last" != */0"$phases"-* ]]; then
  record FAIL "render ($WF_FILE)" "expected ${phases:-?} phase branches (prflow plan), found ${#branches[@]}: ${branches[*]:-none}"
  finish
fi
files=$(git -C "$REPO" ls-tree -r --name-only "$last" | wc -l)
commits=$(git -C "$REPO" rev-list --count "main..$last")
record ok "render ($WF_FILE)" "$phases phases, $commits commits, $files files on $last ($(secs "$t"))"

# --- 4. work tree of the last phase --------------------------------------------------
if git -C "$REPO" worktree add -q "$TREE" "$last" >"$LOGS/worktree.log" 2>&1 &&
  [ -f "$TREE/package.json" ] && [ -d "$TREE/deployment" ] && ls "$TREE"/frontend/*/package.json >/dev/null 2>&1; then
  record ok "work tree" "$TREE"
else
  record FAIL "work tree" "git worktree add of $last failed or the tree lacks package.json/deployment/frontend/*/ ($LOGS/worktree.log)"
  show_log "$LOGS/worktree.log" 10
  finish
fi
[ "$tools_ok" = 1 ] || finish

# --- 5-7. the checks -----------------------------------------------------------------
# check NAME LOG CMD...: runs a verify script, its whole output in LOG
check() {
  local name=$1 log=$2 t rc
  shift 2
  t=$(now)
  "$@" >"$log" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then
    record ok "$name" "($(secs "$t")) $(detail "$name" "$log")"
  else
    record FAIL "$name" "exit $rc ($(secs "$t")); see $log"
    grep -E '^ *(FAIL|\[verify-backend\] FAIL)' "$log" | head -20 | sed 's/^/     | /'
    show_log "$log" 25
  fi
}
# detail NAME LOG: the few numbers worth a summary line
detail() {
  case "$1" in
    backend*)
      grep -oE 'coverage [a-z-]+ +lines [0-9.]+%' "$2" | awk '{print $2, $4}' | sort -u | awk '{printf "%s%s %s", (NR>1?", ":""), $1, $2}'
      ;;
    static*) grep -E '^verify-static: ' "$2" | tail -1 | sed 's/^verify-static: //' ;;
    frontend*)
      if [ -s "$OUT_FRONTEND/load.json" ]; then
        node -e '
          const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop());
          process.stdout.write(`load p95 ${Math.round(r.p95_ms)} ms, ${r.rps} req/s, ${r.errors} errors`);
        ' "$OUT_FRONTEND/load.json" 2>/dev/null
      fi
      grep -q '^note load below a threshold' "$2" && printf '; load below the threshold (not counted: VERIFY_LOAD_STRICT=0)'
      # Where each service kept its data (VERIFY_DATABASES=1), e.g. "shipping-service in memory".
      local stores
      stores=$(grep -E '^store ' "$2" | sed -E 's/^store ([^:]+): (PostgreSQL|MariaDB|Redis|in memory).*/\1 \2/' | paste -sd, -)
      [ -n "$stores" ] && printf '; stores: %s' "${stores//,/, }" || true
      ;;
  esac
}

has() { [[ "$STEPS" == *" $1 "* ]]; }
has backend && check "backend (verify-backend)" "$LOGS/backend.log" "$ROOT/scripts/verify-backend.sh" "$TREE"
has static && check "static (verify-static)" "$LOGS/static.log" "$ROOT/scripts/verify-static.sh" "$TREE"
OUT_FRONTEND="$WORK/frontend"
has frontend && check "frontend (verify-frontend)" "$LOGS/frontend.log" \
  env VERIFY_OUT="$OUT_FRONTEND" VERIFY_STEPS="build e2e integration load" VERIFY_LOAD_STRICT=0 VERIFY_DATABASES="$DATABASES" \
  "$ROOT/scripts/verify-frontend.sh" "$TREE"

finish
}

main "$@"
