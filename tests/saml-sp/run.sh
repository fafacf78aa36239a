#!/usr/bin/env bash
# Runs tests/saml-sp/sp.py (or, with `server` first, sp_server.py) in a virtualenv with
# pysaml2 from PyPI, made on first use under ${IWA_STATE_DIR:-<repo>/target/iwa-state}/
# pysaml2-venv. The other arguments go to the script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${IWA_STATE_DIR:-$here/../../target/iwa-state}
venv=$state/pysaml2-venv
version=7.5.0
if [[ ! -x $venv/bin/python || $(cat "$venv/.pysaml2" 2>/dev/null) != "$version" ]]; then
    rm -rf "$venv"
    mkdir -p "$state"
    # Debian's python3 (python3-venv): a pyenv python first on PATH would do too, but this one
    # is what a fresh Debian 12 has.
    /usr/bin/python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pysaml2==$version" >&2
    echo "$version" >"$venv/.pysaml2"
fi
script=sp.py
if [[ ${1:-} == server ]]; then
    script=sp_server.py
    shift
fi
exec "$venv/bin/python" "$here/$script" "$@"
