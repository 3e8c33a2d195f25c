# Helpers shared by the .ci scripts that build or load the addon in unusual ways.
# Source it; every function prints what it does to stderr and fails loudly.
#
# Special builds never happen in the checkout itself: node-gyp-build prefers
# build/Release over prebuilds/, so a sanitized or cross build left in the
# checkout would silently replace the committed prebuild for every other test.

KA_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Node binaries from npm are cached across CI runs on the same machine, never in the tree.
KA_CACHE_DIR="${TCPKA_CI_CACHE:-${HOME:-/tmp}/.cache/tcp-keepalive-ci}"

ka_log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
ka_die() { ka_log "FAIL: $*"; exit 1; }

# ka_copy_package DEST: the package's files (tracked, plus new files git does not
# ignore) copied into DEST, sharing the checkout's node_modules; no build/, no dist/.
ka_copy_package() {
  local dest="$1"
  rm -rf "$dest"
  mkdir -p "$dest"
  (cd "$KA_REPO_ROOT" && git ls-files --cached --others --exclude-standard -z) |
    rsync -a --from0 --files-from=- "$KA_REPO_ROOT/" "$dest/"
  ln -s "$KA_REPO_ROOT/node_modules" "$dest/node_modules"
  ka_log "package copied to $dest"
}

# ka_node_binary LINE: path to a Node binary of that major line. The system node
# serves its own line; others come from the npm package node-linux-<arch>@LINE.
ka_node_binary() {
  local line="$1" arch="${2:-x64}"
  if [ "$arch" = x64 ] && [ "$(node -p 'process.versions.node.split(".")[0]')" = "$line" ]; then
    command -v node
    return
  fi
  local prefix="$KA_CACHE_DIR/node-linux-$arch-$line"
  local binary="$prefix/node_modules/node-linux-$arch/bin/node"
  if [ ! -x "$binary" ]; then
    ka_log "installing node-linux-$arch@$line into $prefix"
    # --force: npm refuses a binary for another CPU (wanted to run under qemu) otherwise.
    npm install --no-save --no-audit --no-fund --force --prefix "$prefix" "node-linux-$arch@$line" >&2 ||
      ka_die "npm install node-linux-$arch@$line"
  fi
  printf '%s\n' "$binary"
}

# ka_node_headers NODE: the directory holding include/node for that binary
# (/usr for Debian's node, the package root for node-linux-*), so node-gyp
# never has to download headers (only npm and apt are reachable).
ka_node_headers() {
  local root
  root="$(cd "$(dirname "$1")/.." && pwd)"
  [ -f "$root/include/node/node_api.h" ] || ka_die "no include/node/node_api.h under $root for $1"
  printf '%s\n' "$root"
}

# ka_build_addon DIR NODE [node-gyp args...]: node-gyp rebuild in DIR with that
# Node's headers; CC, CXX, CFLAGS, CXXFLAGS, LDFLAGS from the environment apply.
ka_build_addon() {
  local dir="$1" node="$2"
  shift 2
  local headers
  headers="$(ka_node_headers "$node")"
  ka_log "node-gyp rebuild in $dir (headers $headers${CC:+, CC=$CC}${CXX:+, CXX=$CXX})"
  (cd "$dir" && "$node" node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir="$headers" "$@" >&2) ||
    ka_die "node-gyp rebuild in $dir"
}

# ka_loaded_addon DIR NODE: which binary node-gyp-build would load from DIR
# (PREBUILDS_ONLY in the environment is honoured, as at run time).
ka_loaded_addon() {
  (cd "$1" && "$2" -p "require('node-gyp-build').path('.')")
}

# ka_timed LABEL COMMAND...: runs COMMAND and records "LABEL seconds status" in KA_TIMINGS.
ka_timed() {
  local label="$1" start status
  shift
  start=$(date +%s)
  "$@"
  status=$?
  local took=$(($(date +%s) - start))
  ka_log "$label: ${took}s, exit $status"
  [ -n "${KA_TIMINGS:-}" ] && printf '%-50s %5ss  exit %s\n' "$label" "$took" "$status" >>"$KA_TIMINGS"
  return $status
}

# ka_jest LIMIT LOG DIR NODE JEST_ARGS...: Jest in DIR on NODE, bounded; its output is printed as it
# comes and kept in LOG. A run that passes LIMIT seconds, or whose Jest says it cannot exit (a test left
# a socket, a timer or a child process open) and is still there 30 s later (KA_JEST_EXIT_GRACE), fails then, instead of
# waiting for CI's own limit: what the process still holds is printed (its child processes, its TCP
# connections, the active libuv handles from a Node diagnostic report), it is killed, and ka_jest
# returns 124.
ka_jest() {
  local limit="$1" log="$2" dir="$3" node="$4"
  shift 4
  local reports
  reports="$(mktemp -d)"
  : >"$log"
  (cd "$dir" && exec "$node" --report-on-signal --report-signal=SIGUSR2 --report-directory="$reports" \
    node_modules/.bin/jest "$@") >"$log" 2>&1 &
  local pid=$! start=$SECONDS stuck="" stuck_since=""
  tail -n +1 -f --pid="$pid" "$log" &
  local tailer=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      stuck="still running after $limit s"
    elif grep -q 'Jest did not exit one second after the test run has completed' "$log"; then
      stuck_since="${stuck_since:-$SECONDS}"
      [ $((SECONDS - stuck_since)) -ge "${KA_JEST_EXIT_GRACE:-30}" ] &&
        stuck="the tests finished, but Jest could not exit ${KA_JEST_EXIT_GRACE:-30} s later: a test left something open"
    fi
    [ -n "$stuck" ] && break
    sleep 2
  done
  local held=""
  if [ -n "$stuck" ] && kill -0 "$pid" 2>/dev/null; then
    kill -USR2 "$pid" 2>/dev/null || true
    sleep 5
    held="$(ka_jest_holdings "$pid" "$node" "$reports")"
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local status=0
  wait "$pid" || status=$?
  wait "$tailer" 2>/dev/null || true
  rm -rf "$reports"
  if [ -n "$stuck" ]; then
    printf '== ka_jest: %s (in %s)\n%s\n' "$stuck" "$dir" "$held" | tee -a "$log"
    status=124
  fi
  if [ "$status" -ne 0 ]; then ka_jest_digest "$log"; fi
  return $status
}

# ka_jest_digest LOG: the failures of a Jest run in a few lines (CI shows the end of its output first).
ka_jest_digest() {
  echo "== failed Jest run, in short ($1):"
  grep -aE '^(FAIL |  ● |Tests: )|^== ka_jest|^-- |^(LISTEN|ESTAB|SYN-SENT|CLOSE-WAIT) |^  (tcp|udp|pipe|timer|process|fs_event|tty) ' "$1" | awk '!seen[$0]++' | head -n 40 || true
}

# ka_jest_holdings PID NODE REPORTS: what a stuck Jest process still holds.
ka_jest_holdings() {
  local pid="$1" node="$2" reports="$3" report
  echo "-- its child processes:"
  ps -o pid,etimes,args --ppid "$pid" || true
  echo "-- its TCP sockets:"
  ss -tanp 2>/dev/null | grep "pid=$pid," || echo "(none)"
  echo "-- its active libuv handles, from a diagnostic report:"
  report="$(ls "$reports"/report.*.json 2>/dev/null | head -n 1 || true)"
  if [ -z "$report" ]; then
    echo "(no report within 5 s: the JavaScript thread did not answer SIGUSR2, as when it is blocked in a synchronous call)"
    return
  fi
  "$node" -e '
    const report = require(process.argv[1]);
    for (const h of report.libuv) {
      if (!h.is_active || !h.is_referenced) continue; // what keeps the process alive
      const where = h.localEndpoint ? `${JSON.stringify(h.localEndpoint)} -> ${JSON.stringify(h.remoteEndpoint)}` : h.pid ?? h.filename ?? "";
      console.log(`  ${h.type} ${where}`);
    }
    console.log(`-- JavaScript stack: ${report.javascriptStack.message} ${(report.javascriptStack.stack ?? []).slice(0, 6).join(" | ")}`);
  ' "$report" || true
}
