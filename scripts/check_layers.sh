#!/usr/bin/env bash
# Checks that each src/<layer>/ includes only headers of layers below it (DESIGN.md, section 2).
set -euo pipefail
cd "$(dirname "$0")/.."
order=(util ring ckks graph onnx he net)
declare -A allowed
allowed[util]="util"
allowed[ring]="util ring"
allowed[ckks]="util ring ckks"
allowed[graph]="util graph"
allowed[onnx]="util graph onnx"
allowed[he]="util ring ckks graph he"
allowed[net]="util ring ckks graph he net"
bad=0
for layer in "${order[@]}"; do
  [ -d "src/$layer" ] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$line")
    case "$inc" in
      hegraph/*) continue ;;   # public headers
      */*) dep=${inc%%/*} ;;
      *) continue ;;           # same-folder header
    esac
    if [[ " ${allowed[$layer]} " != *" $dep "* ]]; then
      echo "layering: $file includes $inc (layer $layer may not use $dep)"
      bad=1
    fi
  done < <(grep -Hn '#include "' src/"$layer"/*.[ch] 2>/dev/null || true)
done
exit $bad
