#!/usr/bin/env bash
# hegraph eval and info fail cleanly: "hegraph: HG_ERR_...: detail" and a non-zero exit.
# Usage: eval_errors.sh HEGRAPH SRC
set -uo pipefail
hegraph=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

expect_error() { # expect_error STATUS SUBSTRING COMMAND...
  local status=$1 needle=$2
  shift 2
  if "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: '$*' succeeded"; fails=1; return
  fi
  if ! grep -q "^hegraph: $status: .*$needle" "$tmp/err"; then
    echo "FAIL: '$*' printed:"; cat "$tmp/err"; fails=1; return
  fi
  echo "ok: $status ($needle)"
}

model=$src/models/small_cnn.onnx
data=$src/tests/data/small_cnn
expect_error HG_ERR_IO "no/such" "$hegraph" info "$tmp/no/such.onnx"
head -c 700 "$model" >"$tmp/truncated.onnx"
expect_error HG_ERR_FORMAT "" "$hegraph" info "$tmp/truncated.onnx"
expect_error HG_ERR_FORMAT "TensorProto" "$hegraph" eval "$model" --input "$model" --output "$tmp/o.pb"
# An input of the wrong shape: the model's output as input.
expect_error HG_ERR_INVALID_ARG "input 'input'" "$hegraph" eval "$model" --input "$data/output_0.pb"
exit $fails
