#!/usr/bin/env bash
# hegraph keygen, serve and client over TCP on loopback: the small CNN's outputs decrypted by
# the client match PyTorch's within 1e-2 with masked activations; a client that requires
# masking refuses a server that does not mask; a client whose keys are for other parameters is
# refused before it sends anything.
# Usage: serve_client.sh HEGRAPH SRC
set -uo pipefail
hegraph=$1
src=$2
model=$src/models/small_cnn.onnx
data=$src/tests/data/small_cnn
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=1; }

# The parameters the server chooses for the model, as a file for keygen and serve.
"$hegraph" info "$model" | sed -n '/^{/,/^}/p' >"$tmp/params.json"
grep -q poly_modulus_degree "$tmp/params.json" || { echo "FAIL: no parameter file from info"; exit 1; }
"$hegraph" keygen --params "$tmp/params.json" --out "$tmp/keys" >/dev/null || exit 1

# Starts `hegraph serve --once` on an ephemeral port; sets $port.
serve() {
  local log=$1
  shift
  "$hegraph" serve "$model" --listen 127.0.0.1:0 --once --timeout 60 "$@" >"$log" 2>&1 &
  pids+=($!)
  port=
  for _ in $(seq 1 300); do
    port=$(sed -n 's/^listening on .*(port \([0-9]*\))$/\1/p' "$log")
    [ -n "$port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: the server did not start:"; cat "$log"
  exit 1
}
client() {
  "$hegraph" client --connect "127.0.0.1:$port" --keys "$1" --input "$data/input_0.pb" \
    --timeout 120 "${@:2}"
}

# Masked activations: the decrypted outputs match the reference.
serve "$tmp/serve1" --params "$tmp/params.json"
if client "$tmp/keys" --require-masked --output "$tmp/out.pb" --expect "$data/output_0.pb" \
  --tol 1e-2 >"$tmp/c1" 2>&1 && grep -q "activations masked" "$tmp/c1" &&
  grep -q "max |error|" "$tmp/c1" && [ -s "$tmp/out.pb" ]; then
  echo "ok: encrypted inference over TCP matches the reference ($(grep -o 'max |error| [^ ]*' "$tmp/c1"))"
else
  fail "masked session:"; cat "$tmp/c1" "$tmp/serve1"
fi
wait "${pids[-1]}" || fail "serve --once exited with an error: $(cat "$tmp/serve1")"

# A client that requires masking refuses an unmasked server.
serve "$tmp/serve2" --params "$tmp/params.json" --unmasked
if client "$tmp/keys" --require-masked >"$tmp/c2" 2>&1; then
  fail "--require-masked accepted an unmasked server"
elif ! grep -qi "mask" "$tmp/c2"; then
  fail "--require-masked against an unmasked server printed:"; cat "$tmp/c2"
else
  echo "ok: --require-masked refuses an unmasked server: $(head -1 "$tmp/c2")"
fi
kill "${pids[-1]}" 2>/dev/null

# Keys for other parameters: the client refuses the server's parameters.
sed 's/"scale": [0-9]*/"scale": 4194304/' "$tmp/params.json" >"$tmp/other.json"
"$hegraph" keygen --params "$tmp/other.json" --out "$tmp/other" >/dev/null || exit 1
serve "$tmp/serve3" --params "$tmp/params.json"
if client "$tmp/other" >"$tmp/c3" 2>&1; then
  fail "a client with keys for other parameters was served"
elif ! grep -q "^hegraph: HG_ERR" "$tmp/c3"; then
  fail "keys for other parameters printed:"; cat "$tmp/c3"
else
  echo "ok: keys for other parameters are refused: $(head -1 "$tmp/c3")"
fi
exit $fails
