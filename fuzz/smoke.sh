#!/usr/bin/env bash
# Fuzz smoke run: builds every fuzz target once, then runs each for FUZZ_SECONDS (default 30)
# from its committed corpus. Fails if any target crashes, panics, times out on one input
# (FUZZ_INPUT_TIMEOUT, default 10 s) or makes one allocation above FUZZ_MALLOC_LIMIT_MB
# (default 64: inputs are at most 64 KiB, so more is an allocation sized by a claimed length).
#
#   fuzz/smoke.sh                          # all targets, 30 s each
#   FUZZ_SECONDS=300 fuzz/smoke.sh acceptor ap_req
#   FUZZ_GATEWAY=0 fuzz/smoke.sh           # only the kdc-bridge targets (no Pingora build)
#
# Stable Rust: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its sanitizer flags; cargo-fuzz is
# installed if missing. New inputs go to fuzz/target/smoke/<target>/ (the committed corpus is
# only read); a crash is saved under fuzz/artifacts/<target>/ and its reproduction command
# printed. The last line is "fuzz smoke: N passed, N failed".
set -euo pipefail

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
INPUT_TIMEOUT=${FUZZ_INPUT_TIMEOUT:-10}
MALLOC_LIMIT_MB=${FUZZ_MALLOC_LIMIT_MB:-64}
GATEWAY=${FUZZ_GATEWAY:-1}
CARGO_FUZZ_VERSION=0.13.2

KDC_TARGETS=(spnego_token ap_req keytab pac acceptor)
GATEWAY_TARGETS=(negotiate_header config_toml session_cookie)

# The largest input worth trying: a Negotiate token (and what is inside it) is bounded by the
# gateway's 64 KiB header limit; the header itself a little above it, to reach that check;
# cookies just above their 4 KiB bound.
max_len() {
  case $1 in
    spnego_token | ap_req | pac | acceptor) echo 65536 ;;
    negotiate_header) echo 66000 ;;
    keytab) echo 16384 ;;
    config_toml) echo 16384 ;;
    session_cookie) echo 4200 ;;
    *) echo "smoke: unknown target $1" >&2; return 1 ;;
  esac
}

log() { printf 'fuzz smoke: %s\n' "$*" >&2; }

if [[ $# -gt 0 ]]; then
  targets=("$@")
elif [[ $GATEWAY == 0 ]]; then
  targets=("${KDC_TARGETS[@]}")
else
  targets=("${KDC_TARGETS[@]}" "${GATEWAY_TARGETS[@]}")
fi
features=()
if [[ $GATEWAY == 0 ]]; then
  features=(--no-default-features)
  for t in "${targets[@]}"; do
    for g in "${GATEWAY_TARGETS[@]}"; do
      [[ $t != "$g" ]] || { log "$t needs the gateway (unset FUZZ_GATEWAY=0)"; exit 2; }
    done
  done
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

cd "$FUZZ_DIR"
export RUSTC_BOOTSTRAP=1
start=$SECONDS
log "building ${#targets[@]} targets"
cargo fuzz build "${features[@]}"
log "built in $((SECONDS - start)) s"

bin_dir=$FUZZ_DIR/target/x86_64-unknown-linux-gnu/release
passed=0
failed=()
for t in "${targets[@]}"; do
  len=$(max_len "$t")
  work=$FUZZ_DIR/target/smoke/$t
  artifacts=$FUZZ_DIR/artifacts/$t
  mkdir -p "$work/corpus" "$artifacts"
  touch "$work/started"
  t0=$SECONDS
  if "$bin_dir/$t" \
    -max_total_time="$SECONDS_PER_TARGET" \
    -max_len="$len" \
    -timeout="$INPUT_TIMEOUT" \
    -rss_limit_mb=2048 \
    -malloc_limit_mb="$MALLOC_LIMIT_MB" \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1 \
    "$work/corpus" "$FUZZ_DIR/corpus/$t" >"$work/log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    log "$t: ok, ${runs:-?} runs in $((SECONDS - t0)) s (max_len $len)"
    passed=$((passed + 1))
  else
    failed+=("$t")
    log "$t: FAILED after $((SECONDS - t0)) s; the end of $work/log:"
    grep -v '^#[0-9]' "$work/log" | tail -n 40 >&2
    find "$artifacts" -type f -newer "$work/started" | while read -r a; do
      log "reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $t $a"
    done
  fi
done

log "total $((SECONDS - start)) s"
echo "fuzz smoke: $passed passed, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}"
[[ ${#failed[@]} -eq 0 ]]
