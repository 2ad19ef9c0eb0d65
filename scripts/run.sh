#!/usr/bin/env bash
# hegraph's main job on a fresh machine: installs what is missing (packages and the MNIST data),
# builds, then runs encrypted inference of CryptoNets on the 10,000 MNIST test images.
# Extra arguments go to `hegraph run` (e.g. --limit 1000, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build
scripts/fetch_data.sh
exec build/hegraph run models/cryptonets_mnist.onnx --dataset mnist "$@"
