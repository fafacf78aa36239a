#!/usr/bin/env bash
# Throw-away Samba 4 Active Directory DC for iwa-gateway tests and the demo.
#
#   tests/ad/samba-ad.sh up                 provision (if needed) and start the DC
#   tests/ad/samba-ad.sh up dc2             also join (if needed) and start a second DC
#   tests/ad/samba-ad.sh down [dc1|dc2]     stop both DCs, or one (by the pid in the state dir)
#   tests/ad/samba-ad.sh status             say whether dc1 runs (exit 0) or not (exit 3)
#   tests/ad/samba-ad.sh env                print `export` lines: eval "$(tests/ad/samba-ad.sh env)"
#   tests/ad/samba-ad.sh rotate ACCOUNT KEYTAB [--append]
#                                           new random password for ACCOUNT, write its new
#                                           keys to KEYTAB, print the new kvno
#   tests/ad/samba-ad.sh kinit USER         TGT for USER into <state>/ccache/USER, print that path
#
# Realm CORP.TEST, domain CORP, DC dc1.corp.test listening ONLY on 127.0.0.21
# (KDC 88, kpasswd 464, LDAP 389, LDAPS 636, GC 3268/3269, CLDAP udp/389, RPC 135).
# `up dc2`: dc2.corp.test on 127.0.0.22, a replica joined to it (tests/ad/replica.sh).
# State: ${IWA_STATE_DIR:-<repo>/target/iwa-state}/ad. The provisioned state is
# keyed by a hash of this script (plus the state path and the Samba version):
# edit the script and the next `up` provisions from scratch (~8 s); otherwise
# `up` just starts the cached DC (~1 s). See tests/ad/README.md.
set -euo pipefail

# samba-tool is a /usr/bin/python3 script that needs Debian's python3-samba; a
# pyenv/venv python3 first on PATH breaks the helpers it runs. System dirs first.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH}"

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO_ROOT=$(cd "$(dirname "$SCRIPT")/../.." && pwd)
STATE_ROOT=${IWA_STATE_DIR:-$REPO_ROOT/target/iwa-state}
STATE_ROOT=$(mkdir -p "$STATE_ROOT" && cd "$STATE_ROOT" && pwd)
STATE=$STATE_ROOT/ad

REALM=CORP.TEST
DNS_DOMAIN=corp.test
NETBIOS=CORP
DC_NAME=dc1
DC_FQDN=dc1.corp.test
DC_IP=127.0.0.21   # not 127.0.0.1: keeps ports 88/389/636 there free, and is easy to spot
BASE_DN=DC=corp,DC=test
USERS_DN=CN=Users,$BASE_DN

# Layout of the state dir.
DC_DIR=$STATE/dc                 # samba-tool --targetdir: private/ (sam.ldb, ...), state/, cache/
SMB_CONF=$STATE/smb.conf         # our own config; the generated dc/etc/smb.conf is not used
SAM_LDB=$DC_DIR/private/sam.ldb
KRB5_CONF=$STATE/krb5.conf
CA_PEM=$STATE/ca.pem
PASSWORDS=$STATE/passwords.env
PID_FILE=$STATE/run/samba.pid
LOG_FILE=$STATE/log/samba.log
STAMP=$STATE/.provisioned        # holds the cache key once provisioning finished
LOCK_FILE=$STATE_ROOT/ad.lock    # outside $STATE: provisioning deletes $STATE

# Test users: name -> extra LDIF lines. Service accounts: name -> SPN.
USERS=(alice bob carol dave mallory)
SERVICES=(svc-gw svc-rc4 svc-other svc-rot)
declare -A SPN=(
  [svc-gw]=HTTP/gw.corp.test
  [svc-rc4]=HTTP/rc4.corp.test
  [svc-other]=HTTP/other.corp.test
  [svc-rot]=HTTP/rot.corp.test
)
declare -A KEYTAB=(
  [svc-gw]=$STATE/gw.keytab
  [svc-rc4]=$STATE/rc4.keytab
  [svc-other]=$STATE/other.keytab
  [svc-rot]=$STATE/rot.keytab
)

# shellcheck source=tests/ad/replica.sh
source "$(dirname "$SCRIPT")/replica.sh"

PACKAGES=(samba samba-ad-dc samba-ad-provision samba-common-bin ldb-tools krb5-user ldap-utils openssl)

log() { printf 'samba-ad: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- packages --

# Install whatever is missing (CI starts from a fresh Debian 12). No-op, and
# cheap (one dpkg call), when everything is there.
ensure_packages() {
  local missing=() p st
  local -A installed=()
  # One dpkg-query (the database `dpkg -s` reads) for all of them. Only status
  # "ii" counts: `dpkg -s` also succeeds for a removed package whose config
  # files remain ("rc"). Never-installed packages are simply not listed.
  while IFS='=' read -r p st; do
    if [[ $st == ii* ]]; then installed[$p]=1; fi
  done < <(dpkg-query -W -f='${Package}=${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  for p in "${PACKAGES[@]}"; do
    [[ -n ${installed[$p]:-} ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}) and not root"
  log "installing ${missing[*]}"
  local apt_log
  apt_log=$(mktemp)
  # krb5-config asks for a default realm through debconf: keep it non-interactive.
  if ! { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    die "apt-get install failed"
  fi
  rm -f "$apt_log"
}

# ------------------------------------------------------------------ helpers --

cache_key() {
  { cat "$SCRIPT" "$REPLICA_SCRIPT"; printf '%s\n' "$STATE"; samba -V; } | sha256sum | cut -c1-16
}

# Password for an account from passwords.env (IWA_AD_PW_<NAME, upper, - as _>).
pw_var() { local v=${1^^}; printf 'IWA_AD_PW_%s' "${v//-/_}"; }
password_of() {
  local var
  var=$(pw_var "$1")
  [[ -f $PASSWORDS ]] || die "no $PASSWORDS: run '$0 up' first"
  sed -n "s/^${var}='\(.*\)'\$/\1/p" "$PASSWORDS" | head -n1
}

# Random password that passes AD complexity anyway (upper, lower, digit, symbol).
# $SRANDOM (bash >= 5.1) comes from getrandom(): 96 random bits, no subprocess.
new_password() { printf 'Iwa-%08x%08x%08x-Z9' "$SRANDOM" "$SRANDOM" "$SRANDOM"; }

# AD wants unicodePwd as the UTF-16LE encoding of the password in double quotes.
unicode_pwd() { printf '"%s"' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }

port_open() { port_open_on "$DC_IP" "$1"; }
port_open_on() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Pid of our running DC, or nothing. Checks the pid really is a samba (the
# master process's comm is "samba") so a recycled pid is never signalled.
dc_pid() { pid_in "$PID_FILE"; }
pid_in() {
  [[ -f $1 ]] || return 0
  local pid
  pid=$(tr -dc 0-9 <"$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == samba ]] || return 0
  printf '%s' "$pid"
}

with_lock() {
  exec 9>"$LOCK_FILE"
  flock 9
}

samba_tool() { samba-tool "$@" -s "$SMB_CONF"; }

# --------------------------------------------------------------- provision --

write_smb_conf() {
  smb_conf_text "$DC_NAME" "$DC_IP" "$DC_DIR" "$STATE/tls" "$STATE/run" "$LOG_FILE" \
    "ldap, cldap, kdc, rpc" >"$SMB_CONF"
}

# smb.conf of one DC: netbios-name ip db-dir tls-dir run-dir log-file services
# Written from scratch rather than using the generated <db-dir>/etc/smb.conf.
# - server services: KDC + LDAP(S) + CLDAP (no smbd, no winbindd, no DNS); dc1 adds
#   rpc (DRSUAPI), which `up dc2` needs for `samba-tool domain join`.
# - interfaces with the /8 form plus "bind interfaces only" is what keeps every
#   listener on the DC's own address (a bare address, or no interfaces line, ends
#   up on 0.0.0.0 or on 127.0.0.1 too).
# - dns/spn update commands would otherwise run samba_dnsupdate/samba_spnupdate.
# - "ldap server require strong auth = no" allows simple binds over plain ldap://
#   (the default refuses them without TLS).
# - our own TLS cert: Samba's self-made one has no subjectAltName, which rustls rejects.
smb_conf_text() {
  cat <<EOF
# Generated by tests/ad/samba-ad.sh -- throw-away test DC, do not edit.
[global]
	netbios name = ${1^^}
	workgroup = $NETBIOS
	realm = $REALM
	server role = active directory domain controller
	server services = $7
	disable netbios = yes
	interfaces = $2/8
	bind interfaces only = yes
	dns update command = /bin/true
	spn update command = /bin/true
	ldap server require strong auth = no
	tls enabled = yes
	tls keyfile = $4/dc.key
	tls certfile = $4/dc.pem
	tls cafile = $STATE/tls/ca.pem
	prefork children = 2
	private dir = $3/private
	binddns dir = $3/bind-dns
	lock directory = $3
	state directory = $3/state
	cache directory = $3/cache
	pid directory = $5
	log file = $6
	max log size = 10000
	log level = 1
EOF
}

write_tls() {
  # A CA of our own and a DC cert with SANs, valid 10 years so a cached state
  # does not expire. The CA key stays (tls/ca.key) so tests can mint more certs.
  local d=$STATE/tls
  mkdir -p "$d"
  (
    umask 077 # Samba refuses a tls keyfile readable by others
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=iwa-gateway test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$d/ca.key" -out "$d/ca.pem"
  ) >/dev/null 2>&1 || die "openssl failed"
  chmod 644 "$d/ca.pem"
  cp "$d/ca.pem" "$CA_PEM"
  sign_dc_cert "$d" "$DC_FQDN" "$DC_IP"
}

# dc.key + dc.pem in DIR for a DC (fqdn, ip), signed by the test CA.
sign_dc_cert() {
  local d=$1
  mkdir -p "$d"
  (
    umask 077
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$d/dc.key" -out "$d/dc.csr"
    openssl x509 -req -days 3650 -in "$d/dc.csr" -CA "$STATE/tls/ca.pem" -CAkey "$STATE/tls/ca.key" \
      -CAcreateserial -out "$d/dc.pem" -extfile <(printf '%s\n' \
        "subjectAltName=DNS:$2,IP:$3" \
        "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth")
  ) >/dev/null 2>&1 || die "openssl failed"
  chmod 644 "$d/dc.pem"
}

write_krb5_conf() {
  # - rdns/dns_canonicalize_hostname = false: otherwise MIT turns gw.corp.test
  #   into the reverse name of whatever it resolves to (or fails: the test names
  #   are in no DNS and no /etc/hosts) and asks for the wrong HTTP/ principal.
  # - udp_preference_limit = 1: always TCP; dave's 1000-group PAC does not fit UDP.
  # - two KDCs: clients fall over to dc2 (`up dc2`) while dc1 is down; when dc2 does
  #   not run, that costs one refused connection, and only when dc1 is down too.
  cat >"$KRB5_CONF" <<EOF
# Generated by tests/ad/samba-ad.sh for the throw-away test DC.
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	forwardable = true

[realms]
	$REALM = {
		kdc = $DC_IP
		kdc = $DC2_IP
		admin_server = $DC_IP
		kpasswd_server = $DC_IP
	}

[domain_realm]
	.$DNS_DOMAIN = $REALM
	$DNS_DOMAIN = $REALM
EOF
}

# One LDIF with the domain password policy, every user, group and membership,
# applied with ldbadd/ldbmodify straight to the offline sam.ldb (the Samba
# modules run there too: unicodePwd becomes Kerberos keys, memberOf is kept).
# ~2 s for 1000 groups, vs. ~0.5 s per samba-tool call.
write_ldif() {
  local -n _pw=$1
  local u g i

  # Same as `samba-tool domain passwordsettings set --max-pwd-age=0 --min-pwd-age=0
  # --account-lockout-threshold=0 --complexity=off --history-length=0 --min-pwd-length=0`:
  # passwords never expire (else a cached state breaks after 42 days), no lockout
  # (a failing test must not lock alice out for the next one).
  cat >"$STATE/policy.ldif" <<EOF
dn: $BASE_DN
changetype: modify
replace: maxPwdAge
maxPwdAge: -9223372036854775808
-
replace: minPwdAge
minPwdAge: 0
-
replace: lockoutThreshold
lockoutThreshold: 0
-
replace: pwdProperties
pwdProperties: 0
-
replace: pwdHistoryLength
pwdHistoryLength: 0
-
replace: minPwdLength
minPwdLength: 0
EOF

  # userAccountControl: 0x200 NORMAL_ACCOUNT | 0x10000 DONT_EXPIRE_PASSWORD = 66048;
  # + 0x2 ACCOUNTDISABLE = 66050.
  user_entry() { # name uac [extra lines...]
    local name=$1 uac=$2
    shift 2
    printf 'dn: CN=%s,%s\nobjectClass: user\nsAMAccountName: %s\n' "$name" "$USERS_DN" "$name"
    printf 'userPrincipalName: %s@%s\n' "$name" "$DNS_DOMAIN"
    printf 'unicodePwd:: %s\nuserAccountControl: %s\n' "$(unicode_pwd "${_pw[$name]}")" "$uac"
    (($# == 0)) || printf '%s\n' "$@"
    printf '\n'
  }
  group_entry() { # name [member names...]
    local name=$1 m
    shift
    printf 'dn: CN=%s,%s\nobjectClass: group\nsAMAccountName: %s\n' "$name" "$USERS_DN" "$name"
    for m in "$@"; do printf 'member: CN=%s,%s\n' "$m" "$USERS_DN"; done
    printf '\n'
  }

  {
    user_entry alice 66048 "givenName: Alice" "sn: Liddell" "displayName: Alice Liddell" "mail: alice@$DNS_DOMAIN"
    user_entry bob 66048 "givenName: Bob" "sn: Builder" "displayName: Bob Builder" "mail: bob@$DNS_DOMAIN"
    user_entry carol 66048 "displayName: Carol (300 groups)" "mail: carol@$DNS_DOMAIN"
    user_entry dave 66048 "displayName: Dave (1000 groups)" "mail: dave@$DNS_DOMAIN"
    user_entry mallory 66050 "displayName: Mallory (disabled)" "mail: mallory@$DNS_DOMAIN"
    # Service accounts. msDS-SupportedEncryptionTypes = 28 (RC4 0x4 | AES128 0x8 |
    # AES256 0x10) makes the KDC issue AES tickets and exportkeytab export AES keys;
    # without the attribute (svc-rc4) Samba treats the account as RC4-only.
    for u in "${SERVICES[@]}"; do
      if [[ $u == svc-rc4 ]]; then
        user_entry "$u" 66048 "servicePrincipalName: ${SPN[$u]}"
      else
        user_entry "$u" 66048 "servicePrincipalName: ${SPN[$u]}" "msDS-SupportedEncryptionTypes: 28"
      fi
    done
    # Nesting: alice ∈ Engineering ∈ Staff, bob ∈ Sales ∈ Staff, alice ∈ VPN Users.
    group_entry Engineering alice
    group_entry Sales bob
    group_entry Staff Engineering Sales
    group_entry "VPN Users" alice
    # Big tokens: carol ∈ grp-0001..grp-0300, dave ∈ grp-0001..grp-1000.
    for ((i = 1; i <= 1000; i++)); do
      printf -v g 'grp-%04d' "$i"
      if ((i <= 300)); then group_entry "$g" dave carol; else group_entry "$g" dave; fi
    done
  } >"$STATE/objects.ldif"
}

write_passwords() {
  local -n _pw=$1
  local name
  {
    printf '# Throw-away passwords of the test DC (tests/ad/samba-ad.sh). Not secrets.\n'
    for name in Administrator "${USERS[@]}" "${SERVICES[@]}"; do
      printf "%s='%s'\n" "$(pw_var "$name")" "${_pw[$name]}"
    done
  } >"$PASSWORDS"
}

# Export the keys of ACCOUNT's SPN to a keytab.
# Found out with Samba 4.17: `samba-tool domain exportkeytab FILE --principal=P`
# APPENDS to an existing FILE. Entries of other principals stay; for P itself,
# entries with the current kvno are replaced (no duplicates on re-export), the
# previous kvno (n-1) is kept, and older ones (<= n-2) are deleted. It exports
# only the enctypes the account allows (msDS-SupportedEncryptionTypes; none set =
# rc4 only). It reads the local sam.ldb, so it works with the DC up or down.
export_keytab() { # account file
  local out
  out=$(samba_tool domain exportkeytab "$2" --principal="${SPN[$1]}" 2>&1) || {
    printf '%s\n' "$out" >&2
    die "exportkeytab ${SPN[$1]} failed"
  }
}

provision() {
  local t0 name
  t0=$(now)
  # Only ever delete our own .../ad dir.
  [[ $STATE == */ad && -n $STATE_ROOT ]] || die "refusing to delete '$STATE'"
  # Samba puts unix sockets under the state dir (dc/private/ldap_priv/ldapi,
  # dc/msg.sock/<pid>); sun_path holds 107 bytes.
  local sock=$DC_DIR/private/ldap_priv/ldapi
  ((${#sock} <= 100)) || die "state dir path too long for Samba's unix sockets ($sock): set IWA_STATE_DIR to a shorter path"
  rm -rf "$STATE"
  mkdir -p "$STATE/run" "$STATE/log" "$STATE/ccache"
  : >"$STATE/empty.conf"
  local plog=$STATE/log/provision.log
  step() { printf '### %6ss %s\n' "$(elapsed "$t0")" "$*" >>"$plog"; }

  declare -A pw=()
  for name in Administrator "${USERS[@]}" "${SERVICES[@]}"; do pw[$name]=$(new_password); done

  # `-s <empty file>`: otherwise samba-tool reads /etc/samba/smb.conf and its
  # settings leak into the new DC's config. --dns-backend=NONE: no DNS server.
  step "samba-tool domain provision"
  if ! samba-tool domain provision -s "$STATE/empty.conf" --targetdir="$DC_DIR" \
    --realm="$REALM" --domain="$NETBIOS" --server-role=dc --dns-backend=NONE \
    --host-name="$DC_NAME" --host-ip="$DC_IP" --adminpass="${pw[Administrator]}" \
    >>"$plog" 2>&1; then
    tail -n 30 "$plog" >&2
    die "samba-tool domain provision failed (full log: $plog)"
  fi

  step "config files and TLS certs"
  write_smb_conf
  write_tls
  write_krb5_conf
  write_ldif pw
  step "ldbmodify policy.ldif"
  ldbmodify -H "$SAM_LDB" "$STATE/policy.ldif" >>"$plog" 2>&1 ||
    die "ldbmodify policy.ldif failed (see $plog)"
  step "ldbadd objects.ldif"
  ldbadd -H "$SAM_LDB" "$STATE/objects.ldif" >>"$plog" 2>&1 ||
    die "ldbadd objects.ldif failed (see $plog)"
  step "export keytabs"
  for name in "${SERVICES[@]}"; do export_keytab "$name" "${KEYTAB[$name]}"; done
  chmod 600 "$STATE"/*.keytab
  write_passwords pw
  step "done"

  cache_key >"$STAMP"
  log "provisioned $REALM in $(elapsed "$t0") s ($STATE)"
}

provisioned() {
  [[ -f $STAMP && -f $SAM_LDB && -f $SMB_CONF && -f $PASSWORDS ]] &&
    [[ $(<"$STAMP") == "$(cache_key)" ]]
}

# -------------------------------------------------------------- start/stop --

wait_ready() { wait_ready_on "$DC_IP" "$PID_FILE" "$LOG_FILE"; }
wait_ready_on() { # ip pid-file log-file
  local i
  for ((i = 0; i < 300; i++)); do # 30 s
    port_open_on "$1" 88 && port_open_on "$1" 389 && port_open_on "$1" 636 && return 0
    # `samba -D` returns before the daemon writes its pid file: only a DC that is gone
    # after the first two seconds has failed.
    if ((i >= 20)) && [[ -z $(pid_in "$2") ]]; then
      break
    fi
    sleep 0.1
  done
  tail -n 30 "$3" >&2 || true
  die "DC did not come up on $1:88/389/636 (log: $3)"
}

# Fail early (before a 10 s provisioning) when another process already has our
# ports: typically a DC whose state dir was deleted while it ran, or one started
# with another IWA_STATE_DIR. We do not kill it: it is not in our pid file.
check_ports_free() { # [ip]
  local ip=${1:-$DC_IP} p pid sid
  for p in 88 389 636; do
    port_open_on "$ip" "$p" || continue
    # ss names the worker processes; a samba DC's root process is their session leader.
    pid=$(ss -ltnpH "src $ip:$p" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2) || true
    sid=$( [[ -n $pid ]] && ps -o sid= -p "$pid" | tr -d ' ') || true
    die "$ip:$p is already in use${sid:+ by process group $sid ($(ps -o args= -p "$sid"))}, not by the DC of $STATE (a DC whose state dir was deleted, or one of another IWA_STATE_DIR?).${sid:+ Stop it with: kill $sid}"
  done
}

start_dc() {
  # -D: daemonize (setsid: the pid in run/samba.pid leads a process group of all
  # the DC's processes, which `down` signals as a whole).
  # 9>&-: the daemon must not inherit our flock fd, or it holds the lock forever
  # and the next up/down/rotate hangs.
  samba -s "$SMB_CONF" -D 9>&- || die "samba failed to start (log: $LOG_FILE)"
  wait_ready
}

stop_dc() { stop_pid_in "$PID_FILE"; }
stop_pid_in() {
  local pid i
  pid=$(pid_in "$1")
  if [[ -z $pid ]]; then
    rm -f "$1"
    return 0
  fi
  # Signal the process group when the pid leads one (it does with -D), else the pid.
  local target=$pid
  [[ $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]] && target=-$pid
  kill -TERM -- "$target" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do # 10 s
    kill -0 -- "$target" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "$target" 2>/dev/null; then
    log "DC (pid $pid) ignored SIGTERM, sending SIGKILL"
    kill -KILL -- "$target" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$1"
}

# ---------------------------------------------------------------- commands --

cmd_up() {
  with_lock # before ensure_packages: two parallel `up`s must not both run apt-get
  ensure_packages
  local t0 pid
  t0=$(now)
  pid=$(dc_pid)
  if [[ -n $pid ]]; then
    if provisioned; then
      wait_ready # normally instant; covers a concurrent `up` still starting
      return 0
    fi
    log "script changed since the DC was provisioned: stopping it to re-provision"
    stop_dc
  fi
  # A dc2 of a dc1 about to be provisioned again would lose its state dir while running.
  provisioned || stop_pid_in "$DC2_PID_FILE"
  check_ports_free
  provisioned || provision
  start_dc
  log "DC $DC_FQDN up on $DC_IP (pid $(dc_pid)) in $(elapsed "$t0") s; eval \"\$($0 env)\" to use it"
}

cmd_down() {
  (($# <= 1)) || die "usage: $0 down [dc1|dc2]"
  with_lock
  case ${1:-all} in
  all) stop_pid_in "$DC2_PID_FILE" && stop_dc ;;
  dc1) stop_dc ;;
  dc2) stop_pid_in "$DC2_PID_FILE" ;;
  *) die "unknown DC '$1' (dc1 or dc2)" ;;
  esac
}

cmd_status() {
  local pid
  pid=$(dc_pid)
  if [[ -z $pid ]]; then
    echo "stopped (state: $STATE$([[ -f $STAMP ]] || echo ', not provisioned'))"
    status_dc2
    return 3
  fi
  local ports="" p
  for p in 88 389 636; do port_open "$p" && ports+=" $p"; done
  echo "running: pid $pid, $DC_FQDN on $DC_IP, ports open:${ports:- none}, state $STATE$(provisioned || echo ' (STALE: run up)')"
  status_dc2
}

cmd_env() {
  local kt
  # Single-quoted values (readable, and safe to eval).
  q() { printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }
  q IWA_AD_STATE "$STATE"
  q KRB5_CONFIG "$KRB5_CONF"
  q IWA_AD_REALM "$REALM"
  q IWA_AD_DOMAIN "$DNS_DOMAIN"
  q IWA_AD_NETBIOS "$NETBIOS"
  q IWA_AD_BASE_DN "$BASE_DN"
  q IWA_AD_DC_HOST "$DC_FQDN"
  q IWA_AD_DC_IP "$DC_IP"
  q IWA_AD_DC2_HOST "$DC2_FQDN"
  q IWA_AD_DC2_IP "$DC2_IP"
  q IWA_AD_LDAP_URL "ldap://$DC_IP"
  q IWA_AD_LDAPS_URL "ldaps://$DC_IP"
  q IWA_AD_CA "$CA_PEM"
  q LDAPTLS_CACERT "$CA_PEM"
  for kt in gw rc4 other rot; do q "IWA_AD_${kt^^}_KEYTAB" "$STATE/$kt.keytab"; done
  q IWA_AD_BIND_DN "CN=svc-gw,$USERS_DN"
  q IWA_AD_PASSWORDS "$PASSWORDS"
  q IWA_AD_CCACHE_DIR "$STATE/ccache"
  if [[ -f $PASSWORDS ]]; then
    q IWA_AD_BIND_PW "$(password_of svc-gw)"
    sed -n "s/^\(IWA_AD_PW_[A-Z0-9_]*=.*\)/export \1/p" "$PASSWORDS"
  fi
}

cmd_rotate() {
  (($# == 2 || $# == 3)) || die "usage: $0 rotate ACCOUNT KEYTAB [--append]"
  local account=$1 out=$2 append=${3:-}
  [[ -z $append || $append == --append ]] || die "unknown option '$append'"
  [[ -n ${SPN[$account]:-} ]] || die "unknown service account '$account' (one of: ${!SPN[*]})"
  with_lock
  ensure_packages
  [[ -n $(dc_pid) ]] || die "DC not running: run '$0 up' first"

  local pw tmp kvno var
  pw=$(new_password)
  # Runs against the local sam.ldb (what samba-tool does by default), safe while
  # the DC runs; the KDC sees the new keys on the next request.
  samba_tool user setpassword "$account" --newpassword="$pw" >/dev/null ||
    die "setpassword $account failed"

  # Keep passwords.env in sync (so `kinit svc-rot` still works).
  var=$(pw_var "$account")
  tmp=$(mktemp "$PASSWORDS.XXXXXX")
  sed "s/^${var}=.*/${var}='${pw}'/" "$PASSWORDS" >"$tmp" && mv -f "$tmp" "$PASSWORDS"

  mkdir -p "$(dirname "$out")"
  if [[ $append == --append ]]; then
    # exportkeytab appends by itself: OUT then has the new kvno and the previous one.
    export_keytab "$account" "$out"
  else
    # Default: OUT holds ONLY the new keys, replaced atomically (rename), so a
    # gateway watching the file never reads a half-written keytab.
    tmp="$(dirname "$out")/.$(basename "$out").rotate.$$"
    rm -f "$tmp"
    export_keytab "$account" "$tmp"
    chmod 600 "$tmp"
    mv -f "$tmp" "$out"
  fi
  kvno=$(klist -k "$out" | awk -v p="${SPN[$account]}@$REALM" '$2 == p && $1 > max { max = $1 } END { print max }')
  [[ -n $kvno ]] || die "no keys for ${SPN[$account]} in $out"
  echo "$kvno"
}

cmd_kinit() {
  (($# == 1)) || die "usage: $0 kinit USER"
  local user=$1 pw cc out
  [[ $user =~ ^[A-Za-z0-9._-]+$ ]] || die "bad user name '$user'"
  ensure_packages
  pw=$(password_of "$user")
  [[ -n $pw ]] || die "no password for '$user' in $PASSWORDS"
  cc=$STATE/ccache/$user
  mkdir -p "$STATE/ccache"
  # MIT kinit reads the password from stdin when it is not a terminal.
  if ! out=$(KRB5_CONFIG=$KRB5_CONF KRB5CCNAME=FILE:$cc kinit "$user@$REALM" <<<"$pw" 2>&1); then
    rm -f "$cc"
    printf '%s\n' "${out#Password for *: }" >&2
    die "kinit $user failed"
  fi
  echo "$cc"
}

usage() {
  sed -n '2,13p' "$SCRIPT" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  case $cmd in
  up)
    (($# == 0)) || [[ $* == dc2 ]] || die "usage: $0 up [dc2]"
    cmd_up
    if (($# == 1)); then up_dc2; fi
    ;;
  down) cmd_down "$@" ;;
  status) cmd_status "$@" ;;
  env) cmd_env "$@" ;;
  rotate) cmd_rotate "$@" ;;
  kinit) cmd_kinit "$@" ;;
  -h | --help | help) usage ;;
  *) log "unknown command '$cmd'" && usage ;;
  esac
}

main "$@"
