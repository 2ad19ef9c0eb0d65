#!/usr/bin/env bash
# Installs what is missing, configures and builds hegraph.
#   scripts/build.sh [BUILD_DIR [CMAKE_ARGS...]]     (default build dir: build)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
dir=${1:-build}
shift || true
if [ ! -f "$dir/CMakeCache.txt" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)" >/dev/null
