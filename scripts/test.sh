#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): installs what is missing, then
#   format, lints, the no-I/O check of the protocol core, unit and property tests, docs,
#   licenses and unused dependencies, example configs, the end-to-end tests against a real
#   Samba AD DC (curl, MIT GSSAPI, Chromium), and a fuzz smoke run.
#
# Environment:
#   FUZZ_SECONDS   seconds per fuzz target (default 30; 0 skips the fuzz smoke)
#   KEEP_AD=1      leave the test AD running afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

scripts/install-deps.sh test
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

summary=()
step() { # name command...
    local name=$1 start=$SECONDS
    shift
    printf '\n==> %s\n' "$name"
    if "$@"; then
        summary+=("ok    $((SECONDS - start))s  $name")
    else
        summary+=("FAIL  $((SECONDS - start))s  $name")
        print_summary
        echo "test suite FAILED at: $name" >&2
        exit 1
    fi
}
print_summary() {
    printf '\n==> summary\n'
    printf '  %s\n' "${summary[@]}"
}

cleanup() {
    if [ "${KEEP_AD:-0}" != 1 ]; then
        tests/ad/samba-ad.sh down >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

check_examples() {
    local f
    for f in examples/*.toml; do
        target/debug/iwa-gateway check-config --syntax-only "$f" || return 1
    done
}

step "format" cargo fmt --all -- --check
step "clippy" cargo clippy --workspace --all-targets --locked --features kdc-bridge/mint -- -D warnings
step "protocol core builds without I/O" cargo check -p kdc-bridge --no-default-features --locked
# kdc-bridge's LDAP tests run against the test AD too.
step "start the test AD" tests/ad/samba-ad.sh up
step "unit and property tests" cargo test --workspace --exclude e2e --locked --features kdc-bridge/mint
step "rustdoc" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
step "licenses, bans, sources" cargo deny --offline check licenses bans sources
step "unused dependencies" cargo machete
step "build binaries" cargo build --locked -p gateway -p e2e -p bench
step "example configs" check_examples
step "end-to-end tests" cargo test --locked -p e2e
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
    step "fuzz smoke" fuzz/smoke.sh
fi
print_summary
echo "test suite passed"
