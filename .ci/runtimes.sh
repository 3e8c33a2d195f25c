#!/usr/bin/env bash
# Smoke checks of the package under Bun and Deno, with Node as the control: the package is packed and
# installed into a new project as a user would, then test/runtimes/smoke.mjs runs on each runtime
# (capabilities, configure and partial configure, a client's setKeepAlive, a connecting socket, zero-code
# preload), with the kernel read from outside the process by test/helpers/kernel-reader.c.
# Bun and Deno are npm's `bun` and `deno` packages, installed on each run (a CI machine starts empty).
#
# Usage: bash .ci/runtimes.sh [RUNTIMES]   RUNTIMES: comma list of node, bun, deno (default all three)
# Work files go to $TCPKA_RUNTIMES_WORK (default /tmp/tcpka-runtimes; emptied first). Fails if any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/native.sh

IFS=, read -r -a runtimes <<<"${1:-node,bun,deno}"
work="${TCPKA_RUNTIMES_WORK:-/tmp/tcpka-runtimes}"
rm -rf "$work"
mkdir -p "$work/project" "$work/tools"

ka_log "building and packing the package"
# Packed as it is published: prepack builds and writes the consumer package.json (no install script), postpack
# puts the repository's back.
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
(cd "$work/project" && npm init -y >/dev/null && npm install --no-audit --no-fund "$work/$tarball" >&2) ||
  ka_die "npm install of $tarball into $work/project"

ka_log "installing bun and deno from npm into $work/tools"
npm install --prefix "$work/tools" --no-audit --no-fund bun@1 deno@2 >&2 || ka_die "npm install bun deno"
cc -O1 -o "$work/kernel-reader" test/helpers/kernel-reader.c || ka_die "cannot compile test/helpers/kernel-reader.c"

failures=()
for runtime in "${runtimes[@]}"; do
  case "$runtime" in
  node) command=(node) ;;
  bun) command=("$work/tools/node_modules/.bin/bun") ;;
  deno) command=("$work/tools/node_modules/.bin/deno" run -A) ;;
  *) ka_die "unknown runtime $runtime (node, bun or deno)" ;;
  esac
  ka_log "$runtime $("${command[0]}" --version | head -n 1)"
  # A few seconds each; two minutes means stuck.
  timeout 120 "${command[@]}" test/runtimes/smoke.mjs "$work/project" "$work/kernel-reader" || failures+=("$runtime")
done

if [ ${#failures[@]} -gt 0 ]; then
  printf 'FAILED: smoke checks under %s\n' "${failures[@]}"
  exit 1
fi
echo "runtimes: every smoke check passed (${runtimes[*]})"
