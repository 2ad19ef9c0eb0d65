#!/usr/bin/env bash
# Runs the unit tests under valgrind's memcheck: no invalid read or write, no use of
# uninitialized memory, no definite leak. Builds in build-valgrind (gcc, -O2 -g).
#   scripts/valgrind.sh [TEST...]     the unit tests (default: all but the slow ones below)
# A few unit tests are skipped because valgrind makes them far too slow (30 to 50 times): the
# NTT sweep up to N = 2^16 (arithmetic on fixed buffers), every encrypted op at several
# parameter sets (test_he_ops) and the loopback server suite (test_server); the network code
# is still run whole here by the replayed fuzz sessions (fuzz_net_server, fuzz_net_client),
# test_frame, test_keys and test_hygiene. They all run under AddressSanitizer in
# `scripts/test.sh --sanitize`.
# Suppressions (scripts/valgrind.supp): only the thread stacks that libgomp keeps for its pool.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-valgrind
skip=" ring_test_ntt he_test_he_ops net_test_server "

scripts/setup.sh
if ! command -v valgrind >/dev/null; then
  echo "valgrind: installing valgrind"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHG_BUILD_BENCH=OFF \
    -DHG_WERROR="${HG_WERROR:-0}" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" >/dev/null

# The unit tests: tests/<layer>/test_<name>.c but the e2e folder and *_slow, and the fuzz
# replays with their inputs (as tests/CMakeLists.txt registers them).
tests=("$@")
if ((${#tests[@]} == 0)); then
  for src in tests/*/test_*.c; do
    layer=$(basename "$(dirname "$src")")
    name=$(basename "$src" .c)
    [ "$layer" = e2e ] && continue
    [ "$layer" = common ] && continue
    [[ "$name" == *_slow ]] && continue
    [[ "$skip" == *" ${layer}_$name "* ]] && continue
    tests+=("${layer}_$name")
  done
  for src in fuzz/fuzz_*.c; do
    tests+=("$(basename "$src" .c)")
  done
fi

export HG_SOURCE_DIR=$PWD HG_BINARY_DIR=$PWD/$build OMP_NUM_THREADS=2
mkdir -p "$build/valgrind"
failed=()
for t in "${tests[@]}"; do
  args=()
  if [[ "$t" == fuzz_* ]]; then
    exe=$build/tests/replay_$t
    args=("fuzz/corpus/$t")
    if [ -d "fuzz/regressions/$t" ]; then args+=("fuzz/regressions/$t"); fi
  else
    exe=$build/tests/$t
  fi
  log=$build/valgrind/$t.log
  t0=$(date +%s)
  if valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --error-exitcode=99 --track-origins=yes \
    --suppressions=scripts/valgrind.supp --log-file="$log" "$exe" "${args[@]}" \
    >"$log.out" 2>&1; then
    printf 'valgrind: %-28s ok (%ss)\n' "$t" "$(($(date +%s) - t0))"
  else
    printf 'valgrind: %-28s FAILED: %s\n' "$t" "$log"
    grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|[0-9,]+ bytes in .* definitely)' \
      "$log" | head -5 || tail -5 "$log.out"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "valgrind: ${#failed[@]} failed: ${failed[*]}"
  exit 1
fi
echo "valgrind: ${#tests[@]} test executables clean"
