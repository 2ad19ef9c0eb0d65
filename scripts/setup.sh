#!/usr/bin/env bash
# Installs what hegraph's build and tests need on a Debian machine. Idempotent: packages that
# are already installed are skipped and nothing is printed for them.
#   scripts/setup.sh          build and test dependencies
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libsodium-dev libcmocka-dev zlib1g-dev
  libprotobuf-c-dev protobuf-c-compiler
  libonnx-dev libonnx-testdata
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
