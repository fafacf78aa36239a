#!/usr/bin/env bash
# Runs tests/saml-sp/sp.py (or, with `server` first, sp_server.py; with `browser`,
# browser.py) in a virtualenv with pysaml2 from PyPI, made on first use under
# ${IWA_STATE_DIR:-<repo>/target/iwa-state}/pysaml2-venv. The other arguments go to the script.
# `run.sh axe` installs axe-core (the accessibility checker, from the npm registry) on first
# use and prints the path of axe.min.js.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${IWA_STATE_DIR:-$here/../../target/iwa-state}
venv=$state/pysaml2-venv
if [[ ${1:-} == axe ]]; then
    axe_version=4.10.2
    dir=$state/axe-core-$axe_version
    if [[ ! -f $dir/node_modules/axe-core/axe.min.js ]]; then
        mkdir -p "$dir"
        npm install --silent --no-audit --no-fund --prefix "$dir" "axe-core@$axe_version" >&2
    fi
    echo "$dir/node_modules/axe-core/axe.min.js"
    exit 0
fi
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
case ${1:-} in
server) script=sp_server.py && shift ;;
browser) script=browser.py && shift ;;
esac
exec "$venv/bin/python" "$here/$script" "$@"
