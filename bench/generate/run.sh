#!/usr/bin/env bash
# The speed comparison of issue 7, in one command: how long prflow takes to render and
# commit the three phases of claude-flow's microservices workflow, next to JHipster
# generating the comparable system (bench/generate/app.jdl: a gateway with React, two
# microservices, docker-compose and Kubernetes).
#
#   prflow:   release build; on a fresh scratch repository, `prflow run` + 2 × `prflow
#             approve` (all three phases rendered and committed), PRFLOW_RUNS times
#             (default 11); the median run is reported, the fastest and slowest beside it.
#   JHipster: generator-jhipster pinned in bench/generate/jhipster (installed with
#             `npm ci` from its lock file when node_modules is missing), then the JDL of the
#             same system (app.jdl for the microservices example, ecommerce.jdl for the
#             e-commerce variant; JDL= picks another) copied in as app.jdl, and
#             `jhipster jdl app.jdl --skip-install --skip-git --no-insight --skip-checks
#             --force --skip-sample-repository` in an empty directory, once, bounded by
#             JHIPSTER_TIMEOUT (default 900 s). It needs no network: when `unshare --net`
#             works (root) it runs without any (loopback only), so it cannot reach anything.
#
# Both run under GNU time (`/usr/bin/time -v`, Debian's `time`, installed when missing):
# wall time (measured around the command), CPU time (user + system, children
# included), peak RSS (the largest process), then files and bytes written (prflow: the
# generated tree of the last phase branch, without the workflow file; JHipster: the
# output directory without app.jdl), files per second, and the ratios.
#
# usage: bench/generate/run.sh            (prints a Markdown table; raw data in $BENCH_OUT)
# env:   WORKFLOW (default examples/microservices-workflow.json; any three-phase example,
#        e.g. examples/ecommerce-workflow.json), JDL (a file in bench/generate; default: the
#        one for WORKFLOW), PRFLOW_BIN (skip the build), PRFLOW_RUNS, JHIPSTER_TIMEOUT, SKIP_JHIPSTER=1,
#        BENCH_OUT (default: a new /tmp/prflow-bench-generate.XXXXXX)
set -uo pipefail

main() {
  local here root out
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  root=$(cd "$here/../.." && pwd)
  out=${BENCH_OUT:-$(mktemp -d /tmp/prflow-bench-generate.XXXXXX)}
  mkdir -p "$out" && out=$(cd "$out" && pwd)
  local runs=${PRFLOW_RUNS:-11} commits=0
  local workflow=${WORKFLOW:-examples/microservices-workflow.json}
  [ -f "$root/$workflow" ] || die "WORKFLOW=$workflow: no such file under $root"
  local wf_name
  wf_name=$(basename "$workflow")
  export BENCH_WORKFLOW_NAME=$wf_name # the report's heading names it
  local jdl=${JDL:-}
  if [ -z "$jdl" ]; then
    case $wf_name in ecommerce-workflow.json) jdl=ecommerce.jdl ;; *) jdl=app.jdl ;; esac
  fi
  [ -f "$here/$jdl" ] || die "JDL=$jdl: no such file in $here"
  export BENCH_JDL=$jdl

  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
  die() { echo "bench/generate: $*" >&2; exit 1; }
  now() { date +%s.%N; }

  if [ ! -x /usr/bin/time ]; then
    echo "bench/generate: installing Debian's time (GNU time) for /usr/bin/time -v" >&2
    { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; } >"$out/apt.log" 2>&1 ||
      die "apt-get install time failed (see $out/apt.log)"
  fi

  # --- prflow ------------------------------------------------------------------------
  local prflow=${PRFLOW_BIN:-}
  if [ -z "$prflow" ]; then
    echo "bench/generate: cargo build --release" >&2
    (cd "$root" && cargo build --release --quiet --bin prflow) >"$out/cargo-build.log" 2>&1 ||
      die "cargo build --release failed (see $out/cargo-build.log)"
    prflow="${CARGO_TARGET_DIR:-$root/target}/release/prflow"
  fi
  [ -x "$prflow" ] || die "$prflow is not an executable"
  prflow=$(cd "$(dirname "$prflow")" && pwd)/$(basename "$prflow") # the runs cd elsewhere

  local i
  : >"$out/prflow-runs.tsv"
  for i in $(seq 1 "$runs"); do
    local repo="$out/prflow-$i"
    rm -rf "$repo"
    git init -q -b main "$repo" &&
      cp "$root/$workflow" "$repo/" &&
      git -C "$repo" add "$wf_name" &&
      git -C "$repo" -c user.name=bench -c user.email=bench@prflow.invalid commit -q -m workflow ||
      die "could not make the scratch repository $repo"
    # The three commands in one shell under GNU time: CPU and peak RSS cover all three.
    local t0 t1
    t0=$(now)
    /usr/bin/time -v -o "$out/prflow-$i.time" sh -c '
      cd "$2" &&
      "$1" run "$3" --repo . -q >/dev/null &&
      "$1" approve --repo . -q >/dev/null &&
      "$1" approve --repo . -q >/dev/null' sh "$prflow" "$repo" "$wf_name" >"$out/prflow-$i.log" 2>&1 ||
      die "prflow run/approve failed (see $out/prflow-$i.log)"
    t1=$(now)
    local last
    last=$(git -C "$repo" for-each-ref --format='%(refname:short)' 'refs/heads/prflow/' | sort | tail -1)
    [[ "$last" == */03-* ]] || die "prflow did not reach phase 3 in $repo (branches: $(git -C "$repo" branch | tr '\n' ' '))"
    local files bytes commits
    read -r files bytes < <(git -C "$repo" ls-tree -r -l "$last" |
      awk -v wf="$wf_name" '$5 != wf { n++; b += $4 } END { print n, b }')
    commits=$(git -C "$repo" rev-list --count "main..$last")
    printf '%s\t%s\t%s\t%s\t%s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
      "$(cpu_of "$out/prflow-$i.time")" "$(rss_of "$out/prflow-$i.time")" "$files" "$bytes" >>"$out/prflow-runs.tsv"
  done
  # median by wall time
  local p_wall p_cpu p_rss p_files p_bytes p_min p_max
  read -r p_wall p_cpu p_rss p_files p_bytes < <(sort -n "$out/prflow-runs.tsv" | awk -v n="$runs" 'NR == int((n + 1) / 2)')
  p_min=$(sort -n "$out/prflow-runs.tsv" | head -1 | cut -f1)
  p_max=$(sort -n "$out/prflow-runs.tsv" | tail -1 | cut -f1)
  p_rss=$(cut -f3 "$out/prflow-runs.tsv" | sort -n | tail -1)

  # --- JHipster ----------------------------------------------------------------------
  local j_wall="" j_cpu="" j_rss="" j_files="" j_bytes="" j_version="" isolated="no"
  if [ "${SKIP_JHIPSTER:-0}" != 1 ]; then
    local jh="$here/jhipster"
    if [ ! -x "$jh/node_modules/.bin/jhipster" ]; then
      echo "bench/generate: npm ci in $jh (generator-jhipster, from the lock file)" >&2
      (cd "$jh" && npm ci --no-audit --no-fund --loglevel=error) >"$out/npm-ci.log" 2>&1 ||
        die "npm ci in $jh failed (see $out/npm-ci.log)"
    fi
    j_version=$(node -p 'require(process.argv[1]).version' "$jh/node_modules/generator-jhipster/package.json")
    local gen="$out/jhipster-out"
    rm -rf "$gen" && mkdir -p "$gen" && cp "$here/$jdl" "$gen/app.jdl"
    # No network at all when we can: JHipster needs none with these flags.
    local netns=()
    if unshare --net true 2>/dev/null; then netns=(unshare --net); isolated="yes (unshare --net)"; fi
    echo "bench/generate: jhipster $j_version jdl $jdl (network isolated: $isolated)" >&2
    local t0 t1
    t0=$(now)
    (cd "$gen" && timeout "${JHIPSTER_TIMEOUT:-900}" /usr/bin/time -v -o "$out/jhipster.time" \
      "${netns[@]}" env NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false DO_NOT_TRACK=1 \
      "$jh/node_modules/.bin/jhipster" jdl app.jdl \
      --skip-install --skip-git --no-insight --skip-checks --force --skip-sample-repository) \
      >"$out/jhipster.log" 2>&1 || die "jhipster failed or timed out (see $out/jhipster.log)"
    t1=$(now)
    j_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    j_cpu=$(cpu_of "$out/jhipster.time")
    j_rss=$(rss_of "$out/jhipster.time")
    read -r j_files j_bytes < <(cd "$gen" && find . -type f ! -path ./app.jdl -printf '%s\n' |
      awk '{ n++; b += $1 } END { print n, b }')
  fi

  report "$out" "$runs:$commits" "$p_wall" "$p_min" "$p_max" "$p_cpu" "$p_rss" "$p_files" "$p_bytes" \
    "$j_version" "$isolated" "$j_wall" "$j_cpu" "$j_rss" "$j_files" "$j_bytes" | tee "$out/RESULTS.md"
}

# cpu_of TIMEFILE: user + system seconds from GNU time -v
cpu_of() { awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { print u + s }' "$1"; }
# rss_of TIMEFILE: peak RSS in kB
rss_of() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }

report() {
  local out=$1 runs=${2%%:*} commits=${2#*:} p_wall=$3 p_min=$4 p_max=$5 p_cpu=$6 p_rss=$7 p_files=$8 p_bytes=$9
  local j_version=${10} isolated=${11} j_wall=${12} j_cpu=${13} j_rss=${14} j_files=${15} j_bytes=${16}
  echo "## bench/generate: ${BENCH_WORKFLOW_NAME:-microservices-workflow.json} ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| | wall | CPU (user+sys) | peak RSS | files | MB | files/s |"
  echo "|---|---|---|---|---|---|---|"
  awk -v w="$p_wall" -v lo="$p_min" -v hi="$p_max" -v c="$p_cpu" -v r="$p_rss" -v f="$p_files" -v b="$p_bytes" -v n="$runs" -v k="$commits" 'BEGIN {
    printf "| prflow: run + 2 × approve (3 phases, %d commits; median of %d, %.3f–%.3f s) | %.3f s | %.3f s | %.1f MB | %d | %.2f | %.0f |\n",
      k, n, lo, hi, w, c, r / 1024, f, b / 1e6, f / w }'
  if [ -n "$j_wall" ]; then
    awk -v w="$j_wall" -v c="$j_cpu" -v r="$j_rss" -v f="$j_files" -v b="$j_bytes" -v v="$j_version" 'BEGIN {
      printf "| JHipster %s: jhipster jdl %s (bench/generate/%s) | %.1f s | %.1f s | %.1f MB | %d | %.2f | %.0f |\n",
        v, ENVIRON["BENCH_JDL"], ENVIRON["BENCH_JDL"], w, c, r / 1024, f, b / 1e6, f / w }'
    echo
    awk -v pw="$p_wall" -v pc="$p_cpu" -v pr="$p_rss" -v pf="$p_files" \
      -v jw="$j_wall" -v jc="$j_cpu" -v jr="$j_rss" -v jf="$j_files" 'BEGIN {
      printf "Ratios (JHipster / prflow): wall %.0f×, CPU %.0f×, peak RSS %.0f×, files per second %.1f× in prflow'"'"'s favour (%.0f vs %.0f files/s), files per CPU-second %.1f× (%.0f vs %.0f).\n",
        jw / pw, jc / pc, jr / pr, (pf / pw) / (jf / jw), pf / pw, jf / jw, (pf / pc) / (jf / jc), pf / pc, jf / jc }'
    echo
    echo "JHipster ran with the network $( [ "$isolated" = no ] && echo "available (not isolated: unshare --net did not work)" || echo "cut off: $isolated")."
  else
    echo
    echo "JHipster skipped (SKIP_JHIPSTER=1)."
  fi
  echo "Raw data (GNU time output, logs, generated trees): $out"
}

main "$@"
