#!/usr/bin/env bash
# hegraph eval --encrypted on the small CNN (Conv, BatchNorm, Relu, MaxPool, depthwise Conv,
# ReLU6, AvgPool, Gemm, x*x): the decrypted outputs match PyTorch's, masked and unmasked, real
# and complex packing; hegraph info shows the encryption plan.
#
# The tolerances follow the noise, measured over 30 runs of each case (outputs up to 0.21):
# - scale 2^30 (params_scale30.json): largest error 6.6e-4 (real packing, masked), so 5e-3;
# - the automatic choice (scale 2^28 for this model, complex, masked): largest error 1.1e-4 in
#   10 runs (2.5e-3 at 2^25), so 2e-2, which also holds for any scale from 2^25 up.
# Real packing is the noisier: its x*x stays unrelinearized, and rescaling a three-component
# ciphertext rounds c2 too, an error multiplied by s^2 (about 6 bits of precision). A mask
# factor of 2^-4 multiplies the noise of its rescale by 16.
# Usage: eval_encrypted.sh HEGRAPH SRC
set -euo pipefail
hegraph=$1
src=$2
model=$src/models/small_cnn.onnx
data=$src/tests/data/small_cnn
for flags in "" "--unmasked" "--real" "--real --unmasked"; do
  # shellcheck disable=SC2086
  "$hegraph" eval "$model" --input "$data/input_0.pb" --encrypted $flags \
    --params "$data/params_scale30.json" --expect "$data/output_0.pb" --tol 5e-3
done
"$hegraph" eval "$model" --input "$data/input_0.pb" --encrypted \
  --expect "$data/output_0.pb" --tol 2e-2
"$hegraph" info "$model" | grep -q "predicted peak memory" || { echo "info: no memory line"; exit 1; }
"$hegraph" info "$model" | grep -q "128-bit security" || { echo "info: no security"; exit 1; }
echo "eval_encrypted: ok"
