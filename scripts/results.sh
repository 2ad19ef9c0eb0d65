#!/usr/bin/env bash
# Reproduces docs/results.md's measurements on this machine: the CKKS micro-benchmarks, the
# encrypted-backend ablation on CryptoNets, the client-aided protocol's traffic, and the main
# job on MNIST and Fashion-MNIST. Writes the raw outputs to docs/results/ and the throughput
# chart to docs/results/ablation.svg. MobileNetV2 (an hour, 16 GB) is separate: see
# docs/results.md.
# Takes about 20 minutes on two cores; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build
scripts/fetch_data.sh
out=docs/results
mkdir -p "$out"
build/bench/bench_ckks --seconds 0.5 | tee "$out/bench_ckks.txt"
build/bench/bench_he --reps 5 | tee "$out/bench_he.txt"
build/bench/bench_net --reps 3 | tee "$out/bench_net.txt"
for ds in mnist fashion; do
  model=models/cryptonets_$ds.onnx
  [ "$ds" = fashion ] && model=models/cryptonets_fashion.onnx
  build/hegraph run "$model" --dataset "$ds" --json | tee "$out/run_$ds.json"
done
python3 scripts/plot_results.py "$out/bench_he.txt" "$out/ablation.svg"
echo "results written to $out/"
