#!/usr/bin/env bash
# The demo: a throw-away Active Directory (Samba, realm CORP.TEST, on 127.0.0.21), the gateway
# in front of a small echo app, and a silent sign-in as the domain user alice.
#
#   scripts/demo.sh          build, start everything, sign in with curl and MIT GSSAPI
#   scripts/demo.sh stop     stop the gateway, the echo app and the AD
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state=${IWA_STATE_DIR:-$root/target/iwa-state}/demo
gw_port=18080 admin_port=19090 app_port=18081

stop_pid() { # file
    if [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then
        kill "$(cat "$1")" && sleep 0.3
    fi
    rm -f "$1"
}

if [ "${1:-}" = stop ]; then
    stop_pid "$state/gateway.pid"
    stop_pid "$state/echo.pid"
    tests/ad/samba-ad.sh down
    echo "demo stopped"
    exit 0
fi

scripts/install-deps.sh demo
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

echo "==> building the gateway and the demo tools (first build takes a few minutes)"
cargo build --locked --quiet -p gateway -p e2e

echo "==> starting the throw-away Active Directory (CORP.TEST on 127.0.0.21)"
tests/ad/samba-ad.sh up
eval "$(tests/ad/samba-ad.sh env)"

mkdir -p "$state"
stop_pid "$state/gateway.pid"
stop_pid "$state/echo.pid"
install -m 600 "$IWA_AD_GW_KEYTAB" "$state/http.keytab"
[ -f "$state/session.key" ] || (umask 077 && head -c 32 /dev/urandom | base64 > "$state/session.key")
(umask 077 && printf '%s\n' "$IWA_AD_BIND_PW" > "$state/bind.password")
cat > "$state/gateway.toml" <<EOF
# Demo configuration written by scripts/demo.sh (see examples/gateway.toml for all keys).
version = 1

[[listeners]]
address = "127.0.0.1:$gw_port"

[admin]
address = "127.0.0.1:$admin_port"

[kerberos]
keytab = "http.keytab"
spns = ["HTTP/gw.corp.test@CORP.TEST"]

[session]
key_files = ["session.key"]

# Groups and attributes from AD over LDAPS, with the throw-away AD's CA.
[directory]
dcs = [{ host = "$IWA_AD_DC_HOST", address = "$IWA_AD_DC_IP:636" }]
ca_file = "$IWA_AD_CA"
bind_dn = "$IWA_AD_BIND_DN"
bind_password_file = "bind.password"
base_dn = "$IWA_AD_BASE_DN"

[identity]
group_patterns = ["Engineering", "Staff", "VPN Users", "Domain Users"]

# Everything under /app/ needs a Windows (Kerberos) sign-in; the rest is public.
[[routes]]
prefix = "/app/"
upstream = "127.0.0.1:$app_port"

[[routes]]
prefix = "/"
upstream = "127.0.0.1:$app_port"
auth = "public"
EOF
target/debug/iwa-gateway check-config "$state/gateway.toml"

echo "==> starting the echo app on 127.0.0.1:$app_port and the gateway on 127.0.0.1:$gw_port"
nohup target/debug/iwa-echo "127.0.0.1:$app_port" >"$state/echo.log" 2>&1 &
echo $! >"$state/echo.pid"
nohup target/debug/iwa-gateway run --config "$state/gateway.toml" >"$state/gateway.log" 2>&1 &
echo $! >"$state/gateway.pid"
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null || { echo "the gateway did not start; see $state/gateway.log" >&2; exit 1; }

ccache=$(tests/ad/samba-ad.sh kinit alice)
url="http://gw.corp.test:$gw_port/app/hello"
echo
echo "==> alice has a Kerberos ticket (as on a domain-joined PC):"
KRB5CCNAME=$ccache klist | sed -n '1,5p'
echo
echo "==> curl --negotiate $url   (no password anywhere)"
KRB5CCNAME=$ccache curl -s -i --negotiate -u : --resolve "gw.corp.test:$gw_port:127.0.0.1" "$url" \
    | tr -d '\r' | sed -e 's/^\(www-authenticate: Negotiate \).\{24\}.*/\1…(mutual-authentication token)/I' \
                       -e 's/^\(set-cookie: iwagw_session=\)[^;]*/\1…/I'
echo
echo "==> what the app saw (identity headers from the ticket's PAC and from AD):"
KRB5CCNAME=$ccache curl -s --negotiate -u : --resolve "gw.corp.test:$gw_port:127.0.0.1" "$url" \
    | python3 -c 'import json,sys
h = json.load(sys.stdin)["headers"]
for k in sorted(h):
    if k.startswith("x-remote-"):
        print("    %s: %s" % (k, h[k][0]))'
echo "==> checks of the AD connection for network engineers: target/debug/iwa-gateway doctor --config $state/gateway.toml"
target/debug/iwa-gateway doctor --config "$state/gateway.toml" | tail -n 1 | sed "s/^/    /" || true
echo "==> and the gateway proved itself to the client (mutual authentication): $(KRB5CCNAME=$ccache \
    target/debug/iwa-negotiate get --spn HTTP@gw.corp.test --connect "127.0.0.1:$gw_port" "$url" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["mutual"])')"
echo
echo "==> without a ticket the gateway challenges:"
curl -s -o /dev/null -w '    HTTP %{http_code}, WWW-Authenticate: %header{www-authenticate}\n' \
    --resolve "gw.corp.test:$gw_port:127.0.0.1" "$url"
cat <<EOF

Try it in a browser (Chromium, as a domain-joined PC would):
  KRB5CCNAME=$ccache KRB5_CONFIG=$KRB5_CONFIG chromium \\
      --auth-server-allowlist='*.corp.test' \\
      --host-resolver-rules='MAP gw.corp.test 127.0.0.1' \\
      --user-data-dir=\$(mktemp -d) http://gw.corp.test:$gw_port/app/
  (Chromium refuses the very first Negotiate challenge of a new process; if the page shows
  "Sign-in required", reload it once.)

Logs: $state/gateway.log (audit lines have target "security")   Metrics: http://127.0.0.1:$admin_port/metrics
Stop everything: scripts/demo.sh stop
EOF
