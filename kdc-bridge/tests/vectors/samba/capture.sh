#!/usr/bin/env bash
# Captures the Samba regression vectors of this directory from the throw-away test DC:
#
#   tests/ad/samba-ad.sh up && cargo build -p e2e --bin iwa-negotiate
#   kdc-bridge/tests/vectors/samba/capture.sh
#
# Overwrites the keytabs, the tokens and captured-at. The expected values in
# kdc-bridge/tests/samba_vectors.rs (authenticator ctimes, ticket times) then change: the
# test's failure messages show the new ones. See ../README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
ad=$repo/tests/ad/samba-ad.sh
negotiate=$repo/target/debug/iwa-negotiate
[[ -x $negotiate ]] || { echo "build it first: cargo build -p e2e --bin iwa-negotiate" >&2; exit 1; }
"$ad" status >/dev/null || { echo "start the DC first: tests/ad/samba-ad.sh up" >&2; exit 1; }
eval "$("$ad" env)"

cp "$IWA_AD_GW_KEYTAB" "$here/gw.keytab"
cp "$IWA_AD_RC4_KEYTAB" "$here/rc4.keytab"

# token USER SPN FILE [--raw]: one fresh token from the project's MIT client, as raw octets.
token() {
  local cc
  cc=$("$ad" kinit "$1")
  KRB5CCNAME=FILE:$cc "$negotiate" tokens --spn "$2" --count 1 "${@:4}" | base64 -d >"$here/$3"
}

token alice HTTP@gw.corp.test alice-aes256-spnego.bin
token alice HTTP@gw.corp.test alice-aes256-raw.bin --raw
token alice HTTP@rc4.corp.test alice-rc4-ticket-spnego.bin
token carol HTTP@gw.corp.test carol-300-groups-spnego.bin
token dave HTTP@gw.corp.test dave-1000-groups-spnego.bin

{
  echo "# When the tokens here were captured (Unix seconds, UTC): the 'now' the tests use."
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), $(samba -V), MIT krb5 $(dpkg-query -W -f '${Version}' libkrb5-3)"
  date +%s
} >"$here/captured-at"
ls -l "$here"
