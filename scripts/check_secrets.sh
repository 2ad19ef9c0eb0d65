#!/usr/bin/env bash
# Checks that the server side cannot hold or use a secret key (docs/security.md):
#   1. the server's types (hg_net_server and its sessions, hg_net_server_opts, the compiled
#      model hg_he_model, hg_he_opts, hg_he_run_opts) have no member of a secret-bearing type
#      (hg_ckks_sk, hg_he_client, hg_net_keys, hg_net_client);
#   2. the server's public functions (hg_net_server_*, hg_he_model_*, hg_he_run) take none;
#   3. the server's object files link no function that makes, reads or uses a secret key.
# What it does not prove: that nothing is smuggled through an untyped pointer (the in-process
# client callback's user pointer is one, by design, for the one-process mode).
# Usage: scripts/check_secrets.sh [BUILD_DIR]   (default build; it must have been built)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
secret_types='\bhg_ckks_sk\b|\bhg_he_client\b|\bhg_net_keys\b|\bhg_net_client\b'
bad=0

# The body of a struct: from the line that opens it to the line that closes it.
body() { # body FILE OPENING_REGEX
  awk -v re="$2" '$0 ~ re {on = 1} on {print} on && /^}/ {exit}' "$1"
}
check_struct() { # check_struct FILE OPENING_REGEX NAME
  local b
  b=$(body "$1" "$2")
  if [ -z "$b" ]; then
    echo "secrets: $3 not found in $1 (update scripts/check_secrets.sh)"; bad=1; return
  fi
  if grep -En "$secret_types" <<<"$b"; then
    echo "secrets: $3 ($1) has a member of a secret-bearing type"; bad=1
  fi
}
check_struct src/net/server.c '^struct hg_net_server \{' 'struct hg_net_server'
check_struct src/net/server.c '^typedef struct session \{' 'the server session'
check_struct include/hegraph/hg_net.h '^typedef struct hg_net_server_opts \{' 'hg_net_server_opts'
check_struct src/he/he.h '^struct hg_he_model \{' 'struct hg_he_model'
check_struct include/hegraph/hg_he.h '^typedef struct hg_he_opts \{' 'hg_he_opts'
check_struct include/hegraph/hg_he.h '^typedef struct hg_he_run_opts \{' 'hg_he_run_opts'

# Public declarations of the server's functions, each up to its semicolon.
decls=$(awk '/^HG_API/ {on = 1; d = ""} on {d = d $0 " "} on && /;/ {print d; on = 0}' \
  include/hegraph/hg_net.h include/hegraph/hg_he.h |
  grep -E 'hg_net_server_[a-z_]*\(|hg_he_model_[a-z_]*\(|hg_he_run\(' || true)
[ -n "$decls" ] || { echo "secrets: no server declarations found"; bad=1; }
if grep -E "$secret_types" <<<"$decls"; then
  echo "secrets: a server function takes a secret-bearing type"; bad=1
fi

# Object files of the server side: the net layer but its client and key files, the he layer
# but its client. exec.c also holds hg_he_run_local, the one-process mode that runs both
# sides by design: it may call the client, never a secret-key function itself.
secret_fns='hg_ckks_(sk_[a-z_]+|decrypt|encrypt_sym|pk_new|rlk_new|gk_new|gk_new_pow2)$|hg_net_keys_[a-z_]+$|hg_net_client_[a-z_]+$'
client_fns='hg_he_client_[a-z_]+$'
objs=0
for o in "$build"/CMakeFiles/hg_net_obj.dir/src/net/*.c.o "$build"/CMakeFiles/hg_he_obj.dir/src/he/*.c.o; do
  [ -f "$o" ] || continue
  case "$(basename "$o")" in client.c.o | keys.c.o) continue ;; esac
  objs=$((objs + 1))
  pattern="$secret_fns"
  [ "$(basename "$o")" = exec.c.o ] || pattern="$secret_fns|$client_fns"
  if refs=$(nm -u "$o" | awk '{print $2}' | grep -E "$pattern"); then
    echo "secrets: $o calls $(tr '\n' ' ' <<<"$refs")"; bad=1
  fi
done
if ((objs < 10)); then
  echo "secrets: the server's object files were not found in $build (build it first)"; bad=1
fi
if ((bad == 0)); then
  echo "secrets: the server's types, functions and $objs object files hold and use no secret key"
fi
exit $bad
