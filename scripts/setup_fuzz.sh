#!/usr/bin/env bash
# Installs what the fuzz harnesses need besides the build dependencies (scripts/setup.sh):
# clang 14 with its sanitizer and libFuzzer runtimes (libclang-rt-14-dev) and its OpenMP
# runtime (libomp-14-dev). Idempotent and quiet, like setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

packages=(clang-14 libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup_fuzz: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
