#!/usr/bin/env bash
# The main job, reduced: hegraph run on one small batch of MNIST test images with the committed
# CryptoNets model and 128-bit parameters. The encrypted predictions must equal the plain
# backend's (at most one differs in 256) and the accuracy must be that of the model.
# Usage: run_cryptonets_small.sh HEGRAPH SRC
set -euo pipefail
hegraph=$1
src=$2
cd "$src"
out=$("$hegraph" run models/cryptonets_mnist.onnx --dataset mnist --limit 256 --json 2>/dev/null)
echo "$out"
field() { sed -n "s/.*\"$1\": \([^,]*\),*/\1/p" <<<"$out" | head -1; }
differ=$(field predictions_differ)
enc=$(field encrypted_accuracy)
plain=$(field plain_accuracy)
sec=$(field security_level)
[ "$sec" = 128 ] || { echo "security level $sec, expected 128"; exit 1; }
[ "$differ" -le 1 ] || { echo "$differ predictions differ from the plain backend"; exit 1; }
awk -v e="$enc" -v p="$plain" 'BEGIN { exit !(e >= 0.95 && p >= 0.95) }' ||
  { echo "accuracy too low: encrypted $enc, plain $plain"; exit 1; }
echo "run_cryptonets_small: ok"
