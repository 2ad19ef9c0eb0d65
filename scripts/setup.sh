#!/usr/bin/env bash
# Installs what hegraph's build and tests need on a Debian machine. Idempotent: what is already
# installed is skipped and nothing is printed for it. Runs as root, or through sudo otherwise.
#   scripts/setup.sh          build and test dependencies
#   scripts/setup.sh --data   the same, plus the data sets (scripts/fetch_data.sh): MNIST and
#                             Fashion-MNIST for the CryptoNets models and the end-to-end tests
set -euo pipefail
cd "$(dirname "$0")/.."

data=0
for arg in "$@"; do
  case "$arg" in
    --data) data=1 ;;
    *)
      echo "usage: scripts/setup.sh [--data]" >&2
      exit 2
      ;;
  esac
done

packages=(
  build-essential cmake pkg-config
  libsodium-dev libcmocka-dev zlib1g-dev
  libprotobuf-c-dev protobuf-c-compiler
  libonnx-dev libonnx-testdata
  libcjson-dev
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

if ((data)); then
  exec scripts/fetch_data.sh
fi
