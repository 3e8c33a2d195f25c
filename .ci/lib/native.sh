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
