#!/usr/bin/env bash
# Installs what building, the demo and the test suite need on Debian 12, only when missing.
#
#   scripts/install-deps.sh demo    build + demo: compilers and -dev packages, Samba AD, MIT
#                                   Kerberos clients, curl
#   scripts/install-deps.sh test    all of the above, plus Chromium for the browser test, xmlsec1
#                                   (checks the SAML signatures), Apache httpd with mod_auth_gssapi
#                                   and an MIT KDC (bench/run-comparison), and the cargo tools the
#                                   suite runs (cargo-fuzz, cargo-deny, cargo-machete)
set -euo pipefail

mode=${1:-test}
case "$mode" in demo|test) ;; *) echo "usage: $0 demo|test" >&2; exit 2 ;; esac

say() { printf '==> %s\n' "$*" >&2; }

# Build dependencies of the -sys crates (libgssapi via bindgen, xmlsec for SAML later).
build_pkgs=(build-essential cmake clang libclang-dev pkg-config libkrb5-dev libxmlsec1-dev libxml2-dev libssl-dev)
# The throw-away AD and its clients.
ad_pkgs=(samba samba-ad-dc samba-ad-provision samba-common-bin ldb-tools krb5-user ldap-utils openssl curl ca-certificates)
# The browser single-sign-on test; xmlsec1, the reference verifier of the SAML signatures;
# python3-venv for the pysaml2 service provider (tests/saml-sp, pysaml2 itself from PyPI).
browser_pkgs=(chromium chromium-driver xmlsec1 python3-venv)
# bench/run-comparison: Apache httpd + mod_auth_gssapi to compare with, and an MIT KDC of its own
# (`--kdc mit`). Only ever started from the script's own config, never as the system service.
bench_pkgs=(apache2 libapache2-mod-auth-gssapi krb5-kdc krb5-admin-server)

pkgs=("${build_pkgs[@]}" "${ad_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${browser_pkgs[@]}" "${bench_pkgs[@]}")
# npm installs axe-core, the accessibility checker of the login form test; Debian's when the
# machine has no Node.js of its own.
if [ "$mode" = test ] && ! command -v npm >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    # dpkg -s also succeeds for removed packages whose config files remain: ask for "ii".
    if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | cut -c1-2)" != "ii" ]; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    # Samba's packages must not start the distribution's smbd/nmbd with /etc/samba/smb.conf.
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
    say "installing the Rust toolchain with rustup (Debian's rustc is too old)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        say "adding rustup component $component"
        rustup component add "$component"
    fi
done

if [ "$mode" = test ]; then
    # Pinned so a new release cannot break CI; --locked builds them with their own lockfiles.
    install_tool() { # crate version binary
        if ! "$3" --version 2>/dev/null | grep -q "$2"; then
            say "installing $1 $2"
            cargo install --quiet --locked "$1" --version "$2"
        fi
    }
    install_tool cargo-fuzz 0.13.2 cargo-fuzz
    install_tool cargo-deny 0.20.2 cargo-deny
    install_tool cargo-machete 0.9.2 cargo-machete
fi
