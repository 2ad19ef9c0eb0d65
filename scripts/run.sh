#!/usr/bin/env bash
# hegraph's main job on a fresh machine: builds what is needed, then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build
exec build/hegraph demo "$@"
