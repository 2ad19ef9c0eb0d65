#!/usr/bin/env bash
# hegraph eval on the small CNN exported from PyTorch (scripts/export_small_cnn.py): the plain
# backend must reproduce PyTorch's outputs within 1e-5, write them as a TensorProto that reads
# back the same, and hegraph info must describe the model. Usage: eval_small_cnn.sh HEGRAPH SRC
set -euo pipefail
hegraph=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

model=$src/models/small_cnn.onnx
data=$src/tests/data/small_cnn

"$hegraph" eval "$model" --input "$data/input_0.pb" --output "$tmp/out.pb" \
  --expect "$data/output_0.pb" --tol 1e-5
# The written file is a TensorProto that compares equal to PyTorch's output too.
"$hegraph" eval "$model" --input "$data/input_0.pb" --expect "$tmp/out.pb" --tol 1e-6 >/dev/null

"$hegraph" info "$model" >"$tmp/info.txt"
for want in "Conv" "Relu6" "Square" "parameters: 243" "max depth: 4" "needs the client:"; do
  grep -q -- "$want" "$tmp/info.txt" || { echo "info lacks '$want'"; cat "$tmp/info.txt"; exit 1; }
done
# BatchNormalization is folded into the first Conv and the zero Pad removed.
if grep -q "BatchNormalization\|Pad " "$tmp/info.txt"; then
  echo "info still lists BatchNormalization or Pad"; cat "$tmp/info.txt"; exit 1
fi
echo "eval_small_cnn: ok"
