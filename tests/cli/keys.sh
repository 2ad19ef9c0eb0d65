#!/usr/bin/env bash
# hegraph keygen and the key directory's permissions: the secret key is created with mode 0600
# and its directory 0700 whatever the umask, keys are never overwritten, and hegraph client
# refuses a secret key that group or others may read or write (before it connects anywhere).
# Usage: keys.sh HEGRAPH SRC
set -uo pipefail
hegraph=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=1; }

# The MobileNetV2 parameter set: 128-bit secure and quick to make keys for.
cat >"$tmp/params.json" <<'JSON'
{"scheme_name": "HE_SEAL", "poly_modulus_degree": 4096, "security_level": 128,
 "coeff_modulus": [30, 22, 22, 30], "scale": 4194304, "complex_packing": false}
JSON
keys=$tmp/keys
(umask 000 && "$hegraph" keygen --params "$tmp/params.json" --out "$keys" >"$tmp/out" 2>&1) ||
  { fail "keygen"; cat "$tmp/out"; }
mode() { stat -c %a "$1"; }
[ "$(mode "$keys")" = 700 ] || fail "key directory mode $(mode "$keys"), 700 expected"
[ "$(mode "$keys/secret.key")" = 600 ] || fail "secret.key mode $(mode "$keys/secret.key")"
[ -f "$keys/public.key" ] || fail "no public.key"
echo "ok: keygen made secret.key 0600 in a 0700 directory under umask 000"

if "$hegraph" keygen --params "$tmp/params.json" --out "$keys" >"$tmp/out" 2>&1; then
  fail "keygen overwrote existing keys"
elif ! grep -q "never overwritten" "$tmp/out"; then
  fail "keygen over existing keys printed:"; cat "$tmp/out"
else
  echo "ok: existing keys are never overwritten"
fi

input=$src/tests/data/small_cnn/input_0.pb
# Port 9 (discard) on loopback: nothing listens; the keys are checked before connecting.
client() { "$hegraph" client --connect 127.0.0.1:9 --keys "$keys" --input "$input" --timeout 2; }
for m in 640 604 620 602 644; do
  chmod "$m" "$keys/secret.key"
  if client >"$tmp/out" 2>&1; then
    fail "client accepted a secret key of mode $m"
  elif ! grep -q "^hegraph: HG_ERR_IO: .*accessible by group or others (mode $m): chmod 600" \
    "$tmp/out"; then
    fail "client with a secret key of mode $m printed:"; cat "$tmp/out"
  else
    echo "ok: a secret key of mode $m is refused"
  fi
done
# 0600 and 0400 pass the check: the client goes on to connect (and fails there).
for m in 600 400; do
  chmod "$m" "$keys/secret.key"
  client >"$tmp/out" 2>&1
  if grep -q "accessible by group or others" "$tmp/out" || ! grep -q "connect" "$tmp/out"; then
    fail "client with a secret key of mode $m printed:"; cat "$tmp/out"
  else
    echo "ok: a secret key of mode $m is accepted"
  fi
done
exit $fails
