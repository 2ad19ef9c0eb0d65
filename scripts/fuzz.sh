#!/usr/bin/env bash
# Fuzzing with libFuzzer: every parser of untrusted input has a harness in fuzz/ (fuzz/README.md).
# Builds them with clang and the address and undefined-behaviour sanitizers in build-fuzz/
# (scripts/setup_fuzz.sh installs clang), then runs them.
#   scripts/fuzz.sh [--seconds S] [--jobs J] [HARNESS...]
#       runs each harness (default: all) for S seconds (default 60), J at a time (default 1),
#       from the committed corpus fuzz/corpus/<harness> and the regression inputs
#       fuzz/regressions/<harness>; new inputs go to build-fuzz/corpus/<harness>, findings to
#       build-fuzz/artifacts/<harness>/. Prints executions per second and edges covered.
#   scripts/fuzz.sh --smoke
#       the CI smoke run: each harness about 6 seconds from the committed corpus only.
#   scripts/fuzz.sh --seeds
#       rewrites fuzz/corpus from objects the library makes (fuzz/make_corpus.c) and models.
# Limits of every run: 10 s per input (a hang), 2 GiB of memory, 1 GiB in one allocation.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
jobs=1
mode=run
harnesses=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --smoke) mode=smoke; seconds=6; jobs=1; shift ;;
    --seeds) mode=seeds; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "usage: scripts/fuzz.sh [--seconds S] [--jobs J] [--smoke|--seeds] [HARNESS...]" >&2
        exit 2 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done

scripts/setup_fuzz.sh
build=build-fuzz
cc=$(command -v clang-14 || command -v clang)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHG_FUZZ=ON \
    -DHG_BUILD_TESTS=OFF -DHG_BUILD_BENCH=OFF -DHG_WERROR="${HG_WERROR:-0}" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" >/dev/null

# One thread per harness: the harnesses run side by side, and libFuzzer's leak check counts
# allocations across threads.
export OMP_NUM_THREADS=1

if [ "$mode" = seeds ]; then
  rm -rf fuzz/corpus
  "$build/fuzz/make_corpus" fuzz/corpus
  mkdir -p fuzz/corpus/fuzz_onnx fuzz/corpus/fuzz_tensorproto
  cp models/small_cnn.onnx models/mobilenetv2_reduced.onnx fuzz/corpus/fuzz_onnx/
  # One ONNX node test per supported op (Debian's libonnx-testdata, as tests/onnx use them).
  node=/usr/share/libonnx-testdata/data/node
  for t in relu conv_with_strides_padding gemm_default_single_elem_vector_bias matmul_2d \
    maxpool_2d_pads averagepool_2d_strides globalaveragepool softmax_axis_1 clip_splitbounds \
    leakyrelu sigmoid tanh batchnorm_example flatten_axis1 reshape_extended_dims \
    transpose_default concat_2d_axis_1 constant_pad add_bcast sub mul div pow dropout_default \
    identity constant; do
    if [ -f "$node/test_$t/model.onnx" ]; then
      cp "$node/test_$t/model.onnx" "fuzz/corpus/fuzz_onnx/node_$t.onnx"
    fi
  done
  cp tests/data/small_cnn/input_0.pb fuzz/corpus/fuzz_tensorproto/small_cnn_input.pb
  cp tests/data/small_cnn/output_0.pb fuzz/corpus/fuzz_tensorproto/small_cnn_output.pb
  cp tests/data/mobilenetv2_reduced/output_0.pb fuzz/corpus/fuzz_tensorproto/mobilenetv2_output.pb
  du -sh fuzz/corpus
  exit 0
fi

if ((${#harnesses[@]} == 0)); then
  for f in fuzz/fuzz_*.c; do
    harnesses+=("$(basename "$f" .c)")
  done
fi

run_one() {
  local h=$1 dir
  mkdir -p "$build/logs" "$build/artifacts/$h"
  if [ "$mode" = smoke ]; then
    dir=$(mktemp -d)
  else
    dir="$build/corpus/$h"
    mkdir -p "$dir"
  fi
  local seeds=("fuzz/corpus/$h")
  if [ -d "fuzz/regressions/$h" ]; then seeds+=("fuzz/regressions/$h"); fi
  local rc=0
  "$build/fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$build/artifacts/$h/" \
    "$dir" "${seeds[@]}" >"$build/logs/$h.log" 2>&1 || rc=$?
  if [ "$mode" = smoke ]; then rm -rf "$dir"; fi
  local execs eps cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/logs/$h.log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/logs/$h.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$build/logs/$h.log" | tail -1 | cut -d' ' -f2)
  if ((rc)); then
    echo "fuzz: $h FAILED (exit $rc): $build/logs/$h.log, input in $build/artifacts/$h/"
    grep -m3 -E 'ERROR|SUMMARY|Test unit written' "$build/logs/$h.log" | sed 's/^/  /'
    return 1
  fi
  printf 'fuzz: %-18s %4ss  %9s runs  %6s exec/s  %5s edges\n' "$h" "$seconds" \
    "${execs:-?}" "${eps:-?}" "${cov:-?}"
}

failed=0
running=0
for h in "${harnesses[@]}"; do
  if [ ! -x "$build/fuzz/$h" ]; then
    echo "fuzz: no harness $h" >&2
    exit 2
  fi
  run_one "$h" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
