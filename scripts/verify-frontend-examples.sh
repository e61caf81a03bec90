#!/usr/bin/env bash
# Every frontend of every example, built and tested for real (issue 15, item 3):
# renders each workflow with prflow (`prflow run`, then `prflow approve` until no
# checkpoint waits), and for every app under frontend/ of the last phase branch:
#   npm install  (the app alone, not the whole system; npm's shared cache, so the
#                 second app and every re-run mostly reads from disk)
#   npm test     (vitest: API client, form rules, routes, page list)
#   npm run build (vite)
#   npm run test:e2e (playwright-core driving Debian's chromium: sign-up, then on
#                 every page create a record, see it in the list and open it; against
#                 the app's in-memory stand-in for the gateway, e2e/contract-gateway.js;
#                 with GATEWAY_URL set, against that gateway)
# Also checks that a second render writes a byte-identical frontend/ tree.
#
# usage: scripts/verify-frontend-examples.sh [WORKFLOW...]
#        (default: examples/ecommerce-workflow.json examples/social-workflow.json
#         examples/iot-workflow.json)
# env:   PRFLOW_BIN (default target/debug/prflow), CHROMIUM_PATH (default /usr/bin/chromium),
#        VERIFY_OUT (default /tmp/prflow-verify-frontend-examples: scratch repos, logs,
#        screenshots), npm_config_cache (npm's cache; default ~/.npm, shared by the apps)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PRFLOW=${PRFLOW_BIN:-$ROOT/target/debug/prflow}
# Absolute: the renders run in their own scratch repositories.
[ -x "$PRFLOW" ] || { echo "verify-frontend-examples: PRFLOW_BIN=$PRFLOW is not an executable" >&2; exit 1; }
PRFLOW=$(cd "$(dirname "$PRFLOW")" && pwd)/$(basename "$PRFLOW")
OUT=${VERIFY_OUT:-${TMPDIR:-/tmp}/prflow-verify-frontend-examples}
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ $# -eq 0 ]; then
  set -- "$ROOT/examples/ecommerce-workflow.json" "$ROOT/examples/social-workflow.json" "$ROOT/examples/iot-workflow.json"
fi

[ -x "$PRFLOW" ] || { echo "verify-frontend-examples: $PRFLOW is not built (cargo build, or set PRFLOW_BIN)" >&2; exit 2; }
command -v npm >/dev/null || { echo "verify-frontend-examples: npm is required (Node >= 20.19)" >&2; exit 2; }
if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "=== installing chromium (apt)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/tmp/prflow-verify-frontend-apt.log 2>&1 \
    || { echo "verify-frontend-examples: apt-get install chromium failed, see /tmp/prflow-verify-frontend-apt.log" >&2; exit 2; }
fi
rm -rf "$OUT"
mkdir -p "$OUT"

passed=0
failed=0
results=()
# step NAME LOG CMD...: runs CMD with its output in LOG; records ok/FAIL, never exits
step() {
  local name=$1 log=$2 t=$SECONDS
  shift 2
  echo "=== $name"
  if "$@" >"$log" 2>&1; then
    results+=("$(printf 'ok   %-55s %3d s' "$name" $((SECONDS - t)))"); passed=$((passed + 1))
  else
    results+=("$(printf 'FAIL %-55s %3d s  (%s)' "$name" $((SECONDS - t)) "$log")"); failed=$((failed + 1))
    tail -n 25 "$log" | sed 's/^/     | /'
    return 1
  fi
}

# render WORKFLOW REPO: a scratch repository holding the workflow, every phase run.
render() {
  local wf=$1 repo=$2
  git init -q -b main "$repo" &&
    cp "$wf" "$repo/" &&
    git -C "$repo" add . &&
    git -C "$repo" -c user.name="prflow verify" -c user.email=verify@prflow.invalid commit -q -m "the workflow" &&
    (cd "$repo" && "$PRFLOW" run "$(basename "$wf")" --repo .) || return 1
  # One approval per checkpoint; the last phase leaves nothing to approve.
  local i
  for i in $(seq 1 20); do
    "$PRFLOW" approve --repo "$repo" || break
  done
}

last_branch() { git -C "$1" for-each-ref --format='%(refname:short)' 'refs/heads/prflow/' | sort | tail -1; }

for wf in "$@"; do
  name=$(basename "$wf" .json)
  name=${name%-workflow}
  work="$OUT/$name"
  mkdir -p "$work"
  [ -f "$wf" ] || { results+=("FAIL $name: $wf does not exist"); failed=$((failed + 1)); continue; }
  step "$name: render (prflow run + approve)" "$work/render.log" render "$wf" "$work/repo" || continue
  branch=$(last_branch "$work/repo")
  git -C "$work/repo" worktree add -q "$work/tree" "$branch" || { results+=("FAIL $name: worktree of $branch"); failed=$((failed + 1)); continue; }
  # Byte-identical on a re-run: a second render (another scratch repository) writes
  # the same frontend/ tree, object for object.
  rerender() {
    render "$wf" "$work/repo2" >/dev/null 2>&1 || { echo "the second render failed"; return 1; }
    local a b
    a=$(git -C "$work/repo" rev-parse "$branch:frontend") || return 1
    b=$(git -C "$work/repo2" rev-parse "$(last_branch "$work/repo2"):frontend") || return 1
    echo "frontend/ tree: first $a, second $b"
    [ "$a" = "$b" ]
  }
  step "$name: a second render is byte-identical" "$work/rerender.log" rerender
  mapfile -t apps < <(cd "$work/tree" && for d in frontend/*/; do [ -f "$d/package.json" ] && echo "${d%/}"; done)
  if [ ${#apps[@]} -eq 0 ]; then
    results+=("FAIL $name: no frontend/*/package.json on $branch"); failed=$((failed + 1))
    continue
  fi
  for app in "${apps[@]}"; do
    dir="$work/tree/$app"
    label="$name: $app ($(node -p "require('$dir/package.json').description.split('(')[1].split(')')[0]" 2>/dev/null))"
    step "$label npm install" "$work/$(basename "$app")-install.log" \
      bash -c 'cd "$0" && nice -n 10 npm install --prefer-offline --no-audit --no-fund --loglevel=error' "$dir" || continue
    step "$label unit tests (vitest)" "$work/$(basename "$app")-unit.log" bash -c 'cd "$0" && npm test' "$dir"
    step "$label build (vite)" "$work/$(basename "$app")-build.log" bash -c 'cd "$0" && npm run build' "$dir" || continue
    step "$label pages in chromium (Playwright)" "$work/$(basename "$app")-e2e.log" \
      env E2E_SCREENSHOTS="$work/screenshots" bash -c 'cd "$0" && npm run test:e2e' "$dir"
  done
done

echo "=== summary"
printf '%s\n' "${results[@]}"
echo "artifacts (logs, screenshots): $OUT"
echo "verify-frontend-examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
