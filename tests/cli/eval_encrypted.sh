#!/usr/bin/env bash
# hegraph eval --encrypted on the small CNN (Conv, BatchNorm, Relu, MaxPool, depthwise Conv,
# ReLU6, AvgPool, Gemm, x*x): the decrypted outputs match PyTorch's within 1e-2, masked and
# unmasked, real and complex packing; hegraph info shows the encryption plan.
# Usage: eval_encrypted.sh HEGRAPH SRC
set -euo pipefail
hegraph=$1
src=$2
model=$src/models/small_cnn.onnx
data=$src/tests/data/small_cnn
for flags in "" "--unmasked" "--real"; do
  # shellcheck disable=SC2086
  "$hegraph" eval "$model" --input "$data/input_0.pb" --encrypted $flags \
    --expect "$data/output_0.pb" --tol 1e-2
done
"$hegraph" info "$model" | grep -q "predicted peak memory" || { echo "info: no memory line"; exit 1; }
"$hegraph" info "$model" | grep -q "128-bit security" || { echo "info: no security"; exit 1; }
echo "eval_encrypted: ok"
