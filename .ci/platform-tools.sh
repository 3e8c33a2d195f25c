#!/usr/bin/env bash
# Installs (apt) what .ci/sanitizers.sh and .ci/cross.sh need, only if something is missing.
# Run as root; CI machines are fresh, so nothing may be assumed installed by hand.
set -euo pipefail
declare -A package_for=(
  [clang]=clang
  [valgrind]=valgrind
  [aarch64-linux-gnu-g++]=g++-aarch64-linux-gnu
  [qemu-aarch64]=qemu-user
  [musl-gcc]=musl-tools
  [x86_64-w64-mingw32-gcc]=gcc-mingw-w64-x86-64
  [x86_64-w64-mingw32-g++-posix]=g++-mingw-w64-x86-64
  [rsync]=rsync
)
missing=()
for command in "${!package_for[@]}"; do
  command -v "$command" >/dev/null || missing+=("${package_for[$command]}")
done
# The ASan runtime is a file, not a command.
if ! command -v clang >/dev/null || [ ! -f "$(clang -print-file-name=libclang_rt.asan-x86_64.so)" ]; then
  missing+=(libclang-rt-14-dev)
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "platform tools: all present"
  exit 0
fi
echo "platform tools: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "platform tools: installed ${missing[*]}"
