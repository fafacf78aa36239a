# shellcheck shell=bash disable=SC2153 # DC_IP, STATE, ...: set by samba-ad.sh
# Second DC for the failover tests: dc2.corp.test on 127.0.0.22, a real replica of dc1
# made with `samba-tool domain join corp.test DC` (DRSUAPI over dc1's rpc service).
# Sourced by samba-ad.sh, whose variables and helpers it uses; see tests/ad/README.md.
#
# dc2 is a snapshot: it has everything dc1 had when it joined (users, groups, keys),
# but nothing replicates afterwards (no DNS, so neither DC can resolve the other's
# replication name). Changes made on dc1 later (`rotate`, test SPNs) are not on dc2.

DC2_NAME=dc2
DC2_FQDN=dc2.corp.test
DC2_IP=127.0.0.22
DC2_DIR=$STATE/dc2 # inside $STATE: provisioning dc1 again wipes it, and dc2 joins again
DC2_SMB_CONF=$DC2_DIR/smb.conf
DC2_PID_FILE=$DC2_DIR/run/samba.pid
DC2_LOG_FILE=$DC2_DIR/log/samba.log
DC2_STAMP=$DC2_DIR/.joined
REPLICA_SCRIPT=$(dirname "$SCRIPT")/replica.sh

dc2_key() { { cache_key; cat "$REPLICA_SCRIPT"; } | sha256sum | cut -c1-16; }

dc2_joined() {
  [[ -f $DC2_STAMP && -f $DC2_SMB_CONF && -f $DC2_DIR/private/sam.ldb ]] &&
    [[ $(<"$DC2_STAMP") == "$(dc2_key)" ]]
}

join_dc2() {
  local t0 jlog
  t0=$(now)
  [[ $DC2_DIR == */ad/dc2 ]] || die "refusing to delete '$DC2_DIR'"
  rm -rf "$DC2_DIR"
  mkdir -p "$DC2_DIR/run" "$DC2_DIR/log"
  jlog=$DC2_DIR/log/join.log
  # The join's own config: it names the new DC (DC2$, dnsHostName dc2.corp.test).
  # --targetdir puts its databases under $DC2_DIR. A DC2$ account left in dc1 by an
  # earlier join is removed and made again by the join itself.
  cat >"$DC2_DIR/join.conf" <<EOF
[global]
	netbios name = ${DC2_NAME^^}
	workgroup = $NETBIOS
	realm = $REALM
	disable netbios = yes
	interfaces = $DC2_IP/8
	bind interfaces only = yes
	log file = $jlog
EOF
  if ! samba-tool domain join "$DNS_DOMAIN" DC -s "$DC2_DIR/join.conf" --server="$DC_IP" \
    -U "Administrator%$(password_of Administrator)" --targetdir="$DC2_DIR" \
    --dns-backend=NONE >>"$jlog" 2>&1; then
    tail -n 30 "$jlog" >&2
    die "samba-tool domain join (dc2) failed (full log: $jlog)"
  fi
  sign_dc_cert "$DC2_DIR/tls" "$DC2_FQDN" "$DC2_IP"
  # No rpc on dc2: nothing joins it, and it replicates from no one.
  smb_conf_text "$DC2_NAME" "$DC2_IP" "$DC2_DIR" "$DC2_DIR/tls" "$DC2_DIR/run" "$DC2_LOG_FILE" \
    "ldap, cldap, kdc" >"$DC2_SMB_CONF"
  dc2_key >"$DC2_STAMP"
  log "joined $DC2_FQDN to $REALM in $(elapsed "$t0") s"
}

# Called with the lock held and dc1 running.
up_dc2() {
  local t0
  t0=$(now)
  if [[ -n $(pid_in "$DC2_PID_FILE") ]]; then
    if dc2_joined; then
      wait_ready_on "$DC2_IP" "$DC2_PID_FILE" "$DC2_LOG_FILE"
      return 0
    fi
    log "dc1 or the scripts changed since dc2 joined: stopping dc2 to join it again"
    stop_pid_in "$DC2_PID_FILE"
  fi
  check_ports_free "$DC2_IP"
  dc2_joined || join_dc2
  samba -s "$DC2_SMB_CONF" -D 9>&- || die "samba (dc2) failed to start (log: $DC2_LOG_FILE)"
  wait_ready_on "$DC2_IP" "$DC2_PID_FILE" "$DC2_LOG_FILE"
  log "DC $DC2_FQDN up on $DC2_IP (pid $(pid_in "$DC2_PID_FILE")) in $(elapsed "$t0") s"
}

status_dc2() {
  local pid ports="" p
  [[ -d $DC2_DIR ]] || return 0
  pid=$(pid_in "$DC2_PID_FILE")
  if [[ -z $pid ]]; then
    echo "dc2: stopped (state: $DC2_DIR$(dc2_joined || echo ', STALE: up dc2 joins again'))"
    return 0
  fi
  for p in 88 389 636; do port_open_on "$DC2_IP" "$p" && ports+=" $p"; done
  echo "dc2: running: pid $pid, $DC2_FQDN on $DC2_IP, ports open:${ports:- none}"
}
