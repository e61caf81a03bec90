#!/usr/bin/env bash
# Installs the prflow binary for this runner, for the GitHub Action (action.yml).
#
# 1. The prebuilt binary from the GitHub release whose tag is the action's ref
#    (`uses: OWNER/prflow/action@v1.2.3` → release v1.2.3), for the runner's OS and
#    architecture, verified against the release's SHA256SUMS.
# 2. When there is no such release (a branch or commit ref, a platform without a
#    prebuilt binary): `cargo install --locked --git … prflow` at the same ref.
# A checksum mismatch is an error, never a reason to fall back.
#
# Environment (set by action.yml; all optional outside the runner):
#   PRFLOW_REF         the action's ref (github.action_ref)
#   PRFLOW_REPOSITORY  owner/name of the action's repository (github.action_repository)
#   PRFLOW_SERVER_URL  https://github.com (github.server_url)
#   PRFLOW_DOWNLOAD_BASE  where release assets live (default SERVER/REPO/releases/download)
#   PRFLOW_INSTALL_DIR where the binary goes (default $RUNNER_TEMP/prflow-bin)
#   RUNNER_OS, RUNNER_ARCH  Linux|macOS, X64|ARM64 (default: uname)
# Prints the installed binary's path as `bin=PATH` to $GITHUB_OUTPUT when set.
set -euo pipefail

say() { printf 'prflow install: %s\n' "$*" >&2; }
die() { printf '::error title=prflow install::%s\n' "$*"; exit 1; }

action_path="${GITHUB_ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
ref="${PRFLOW_REF:-}"
repository="${PRFLOW_REPOSITORY:-}"
# github.action_ref / action_repository can be empty inside composite actions;
# the runner checks actions out at .../_actions/OWNER/NAME/REF/<subdir>.
if [[ -z "$ref" || -z "$repository" ]]; then
  parent="$(dirname "$action_path")"
  case "$parent" in
    */_actions/*/*/*)
      ref="${ref:-$(basename "$parent")}"
      repository="${repository:-$(basename "$(dirname "$(dirname "$parent")")")/$(basename "$(dirname "$parent")")}"
      ;;
  esac
fi
[[ -n "$repository" ]] || die "cannot tell which repository the action comes from (PRFLOW_REPOSITORY is empty)"
[[ -n "$ref" ]] || die "cannot tell the action's ref (PRFLOW_REF is empty); use it as OWNER/prflow/action@vX.Y.Z"
server="${PRFLOW_SERVER_URL:-${GITHUB_SERVER_URL:-https://github.com}}"
base="${PRFLOW_DOWNLOAD_BASE:-$server/$repository/releases/download}"
dest="${PRFLOW_INSTALL_DIR:-${RUNNER_TEMP:-/tmp}/prflow-bin}"
mkdir -p "$dest"

os="${RUNNER_OS:-$(uname -s)}"
arch="${RUNNER_ARCH:-$(uname -m)}"
target=""
case "$os/$arch" in
  Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux/ARM64 | Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-gnu ;;
  macOS/X64 | Darwin/x86_64) target=x86_64-apple-darwin ;;
  macOS/ARM64 | Darwin/arm64 | Darwin/aarch64) target=aarch64-apple-darwin ;;
esac

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

fetch() { # URL FILE: 0 on success, 1 when missing
  case "$1" in
    file://*) cp "${1#file://}" "$2" 2>/dev/null ;;
    *) curl -fsSL --retry 3 --retry-delay 2 -o "$2" "$1" 2>/dev/null ;;
  esac
}

finish() {
  say "installed $("$1" --version 2>/dev/null || echo prflow) at $1"
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then printf 'bin=%s\n' "$1" >>"$GITHUB_OUTPUT"; fi
  if [[ -n "${GITHUB_PATH:-}" ]]; then dirname "$1" >>"$GITHUB_PATH"; fi
  exit 0
}

if [[ -n "$target" ]]; then
  asset="prflow-$ref-$target.tar.gz"
  tmp="$(mktemp -d)"
  if fetch "$base/$ref/$asset" "$tmp/$asset" && fetch "$base/$ref/SHA256SUMS" "$tmp/SHA256SUMS"; then
    want="$(awk -v f="$asset" '$2 == f || $2 == "*"f { print $1 }' "$tmp/SHA256SUMS")"
    [[ -n "$want" ]] || die "SHA256SUMS of release $ref lists no $asset"
    got="$(sha256 "$tmp/$asset")"
    [[ "$want" == "$got" ]] || die "checksum mismatch for $asset of release $ref: expected $want, got $got. Not installing it."
    tar -xzf "$tmp/$asset" -C "$tmp"
    install -m 0755 "$tmp/prflow" "$dest/prflow"
    rm -rf "$tmp"
    finish "$dest/prflow"
  fi
  rm -rf "$tmp"
  say "no prebuilt binary $asset in release $ref of $repository; building from source"
else
  say "no prebuilt binary for $os/$arch; building from source"
fi

command -v cargo >/dev/null 2>&1 || die "cargo is not installed on this runner and there is no prebuilt prflow for $os/$arch at $ref. Install Rust first (rustup) or use a released tag."
case "$ref" in
  [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) how=(--rev "$ref") ;;
  v[0-9]*) how=(--tag "$ref") ;;
  *) how=(--branch "$ref") ;;
esac
cargo install --locked --git "$server/$repository" "${how[@]}" --root "$dest/cargo" prflow >&2 \
  || die "cargo install of prflow at $ref failed (see the log above)"
finish "$dest/cargo/bin/prflow"
