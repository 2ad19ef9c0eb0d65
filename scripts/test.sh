#!/usr/bin/env bash
# Builds hegraph and runs its tests.
#   scripts/test.sh              unit and end-to-end tests (fast; small insecure test parameters;
#                                installs MNIST and Fashion-MNIST first: scripts/fetch_data.sh)
#   scripts/test.sh --slow       the slower suite on real 128-bit parameters
#   scripts/test.sh --sanitize   unit tests built with address and undefined-behaviour sanitizers
# HG_WERROR=1 turns warnings into errors (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
werror=-DHG_WERROR=${HG_WERROR:-0}
case "$mode" in
  "")
    scripts/build.sh build "$werror"
    scripts/fetch_data.sh # MNIST and Fashion-MNIST, read by the end-to-end tests
    ctest --test-dir build -L 'unit|e2e' --output-on-failure -j "$(nproc)"
    ;;
  --slow)
    scripts/build.sh build "$werror"
    ctest --test-dir build -L slow --output-on-failure
    ;;
  --sanitize)
    scripts/setup.sh
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHG_SANITIZE=ON \
      -DHG_BUILD_BENCH=OFF "$werror" >/dev/null
    cmake --build build-asan -j "$(nproc)" >/dev/null
    ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan -L unit --output-on-failure \
      -j "$(nproc)"
    ;;
  *)
    echo "usage: scripts/test.sh [--slow|--sanitize]" >&2
    exit 2
    ;;
esac
