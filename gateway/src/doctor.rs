//! `iwa-gateway doctor --config FILE [--json]`: every check a backbone and AD setup needs, one
//! line each (✔ pass, ! warning, ✘ failure, – not checked), with the value measured and, for
//! each ✘ and !, the concrete fix.
//!
//! The DC checks (reach, TLS, bind, clock, SPNs, kvno, enctypes) are kdc-bridge's
//! [`kdc_bridge::net::doctor`]; this module adds the gateway's own (keytab file mode, header
//! limits for large tokens, Kerberos over UDP) and formats them all.

use std::path::Path;
use std::time::Duration;

use kdc_bridge::net::doctor::{diagnose, Check, DoctorInput, Status};
use kdc_bridge::proto::keytab::{Keytab, KeytabEntry};

use crate::auth::ThreadRandomness;
use crate::config::Config;

/// The `Authorization` size below which large tokens are at risk: a user in about 1000 groups
/// sends a token of about 12 KB in base64, and Windows' own limit (MaxTokenSize) is 48 KB.
pub const LARGE_TOKEN_BYTES: usize = 64 * 1024;

/// A Kerberos message larger than this does not fit one Ethernet frame over UDP (MTU 1500
/// minus IP and UDP headers) and is fragmented; Windows' default MaxPacketSize is 1465.
pub const UDP_SAFE_BYTES: usize = 1465;

/// How long to wait for each port and the UDP answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs every check for `cfg` (read from `path`): the gateway's own, then the DCs'.
pub fn run_checks(cfg: &Config, path: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    let keytab_path = &cfg.kerberos.keytab;
    checks.push(keytab_mode_check(keytab_path));
    checks.push(header_limit_check(cfg.kerberos.max_authorization_bytes));
    checks.push(largest_token_check(
        cfg.admin,
        cfg.kerberos.max_authorization_bytes,
    ));
    let entries: Vec<KeytabEntry> = std::fs::read(keytab_path)
        .ok()
        .and_then(|b| Keytab::extract(&b).ok())
        .map(|k| k.entries)
        .unwrap_or_default();

    let Some(settings) = &cfg.directory else {
        checks.push(Check::warn(
            "directory.config",
            &path.display().to_string(),
            "[directory] section",
            "absent: no DC to check".to_owned(),
            "add a [directory] section (DCs or srv_domain, ca_file, bind_dn, \
             bind_password_file, base_dn) for the DC, LDAP, SPN and kvno checks; see \
             docs/configuration.md"
                .to_owned(),
        ));
        return checks;
    };
    let ldap = match settings.ldap_config() {
        Ok(l) => l,
        Err(e) => {
            checks.push(Check::fail(
                "directory.config",
                &path.display().to_string(),
                "[directory] section",
                e.to_string(),
                "fix the [directory] section (iwa-gateway check-config shows the key)".to_owned(),
            ));
            return checks;
        }
    };
    let realm = cfg
        .kerberos
        .spns
        .first()
        .map(|p| p.realm().to_owned())
        .or_else(|| entries.first().map(|e| e.principal.realm().to_owned()))
        .unwrap_or_default();
    let input = DoctorInput {
        directory: &ldap,
        ca_file: settings.ca_file.clone(),
        password_file: Some(settings.bind_password_file.clone()),
        realm,
        spns: &cfg.kerberos.spns,
        keytab: &entries,
        keytab_path: keytab_path.clone(),
        max_skew: Duration::from_secs(cfg.kerberos.max_skew_secs.unsigned_abs()),
        probe_timeout: PROBE_TIMEOUT,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::fail(
                "doctor.runtime",
                "",
                "async runtime",
                e.to_string(),
                "the gateway cannot start its I/O runtime: check ulimit -n and memory".to_owned(),
            ));
            return checks;
        }
    };
    let dc_checks = runtime.block_on(diagnose(
        &input,
        crate::auth::unix_now(),
        &mut ThreadRandomness,
    ));
    let udp = udp_fragmentation_check(&dc_checks);
    checks.extend(dc_checks);
    checks.extend(udp);
    checks
}

/// The keytab must not be readable by others (the configuration refuses that already) and
/// should not be writable by its group.
pub fn keytab_mode_check(path: &Path) -> Check {
    use std::os::unix::fs::MetadataExt as _;
    let target = path.display().to_string();
    let title = "keytab file permissions";
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Check::fail(
                "keytab.mode",
                &target,
                title,
                e.to_string(),
                format!("put the service keytab at {target}, readable by the gateway's user"),
            )
        }
    };
    let mode = meta.mode() & 0o777;
    let value = format!(
        "mode {mode:04o}, owner uid {} gid {}",
        meta.uid(),
        meta.gid()
    );
    let fix = format!(
        "chmod 600 {target} (or 640 with a group only the gateway's user is in): the keytab \
         holds the service account's keys, which let anyone impersonate any user to this \
         service"
    );
    if mode & 0o007 != 0 {
        Check::fail("keytab.mode", &target, title, value, fix)
    } else if mode & 0o020 != 0 {
        Check::warn("keytab.mode", &target, title, value, fix)
    } else {
        Check::pass("keytab.mode", &target, title, value)
    }
}

/// Is `kerberos.max_authorization_bytes` large enough for the tokens of users in many groups.
pub fn header_limit_check(max_authorization_bytes: usize) -> Check {
    let title = "large tokens: Authorization header limit";
    let value = format!(
        "kerberos.max_authorization_bytes = {max_authorization_bytes} (a user in ~1000 groups \
         sends ~12 KB)"
    );
    if max_authorization_bytes < LARGE_TOKEN_BYTES {
        Check::warn(
            "token.header_limit",
            "",
            title,
            value,
            format!(
                "set kerberos.max_authorization_bytes = {LARGE_TOKEN_BYTES}: users in many \
                 groups (MaxTokenSize is 48 KB on Windows) would get 431 or 400; raise the \
                 limit of any proxy in front too (nginx large_client_header_buffers 4 64k; \
                 http.sys MaxFieldLength/MaxRequestBytes 65536)"
            ),
        )
    } else {
        Check::pass(
            "token.header_limit",
            "",
            title,
            format!(
                "{value}; proxies in front need the same (nginx large_client_header_buffers \
                 4 64k)"
            ),
        )
    }
}

/// The largest token the running gateway has seen (`iwagw_token_size_max_bytes` on its admin
/// listener) against the header limit: the `Authorization` value is `Negotiate ` and the
/// token in base64 (4/3 of its size).
pub fn largest_token_check(
    admin: Option<std::net::SocketAddr>,
    max_authorization_bytes: usize,
) -> Check {
    let title = "large tokens: largest token seen";
    let Some(admin) = admin else {
        return Check::skip(
            "token.largest_seen",
            "",
            title,
            "no [admin] listener to ask",
        );
    };
    let Some(largest) = read_gauge(admin, "iwagw_token_size_max_bytes") else {
        return Check::skip(
            "token.largest_seen",
            &admin.to_string(),
            title,
            "the gateway is not running there; run doctor beside a running gateway to compare \
             the largest token users sent",
        );
    };
    let header = "Negotiate ".len() + largest.div_ceil(3) * 4;
    let value = format!(
        "largest token {largest} bytes = Authorization header of {header} bytes; limit \
         {max_authorization_bytes}"
    );
    let target = admin.to_string();
    if header > max_authorization_bytes {
        Check::fail(
            "token.largest_seen",
            &target,
            title,
            value,
            format!(
                "users with such tokens get 431: raise kerberos.max_authorization_bytes above \
                 {header} (and the limits of proxies in front), or reduce their group count"
            ),
        )
    } else if header * 4 > max_authorization_bytes * 3 {
        Check::warn(
            "token.largest_seen",
            &target,
            title,
            value,
            "the largest token uses over 75 % of the limit: a few more groups and these users \
             get 431; raise kerberos.max_authorization_bytes"
                .to_owned(),
        )
    } else {
        Check::pass("token.largest_seen", &target, title, value)
    }
}

/// One gauge from `/metrics` of the admin listener (1 s timeouts; `None` when nobody answers).
fn read_gauge(admin: std::net::SocketAddr, name: &str) -> Option<usize> {
    use std::io::{Read as _, Write as _};
    let timeout = Duration::from_secs(1);
    let mut s = std::net::TcpStream::connect_timeout(&admin, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: doctor\r\n\r\n")
        .ok()?;
    let mut body = Vec::new();
    s.take(4 << 20).read_to_end(&mut body).ok()?;
    let text = String::from_utf8_lossy(&body);
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|v| v as usize)
}

/// Large tickets and UDP: a ticket over [`UDP_SAFE_BYTES`] fragments over UDP; clients then
/// need TCP 88, which the reach checks measured per DC.
pub fn udp_fragmentation_check(dc_checks: &[Check]) -> Option<Check> {
    let dcs: Vec<&str> = dc_checks
        .iter()
        .filter(|c| c.id == "tcp.88")
        .map(|c| c.target.as_str())
        .collect();
    if dcs.is_empty() {
        return None;
    }
    // A DC whose KDC answers over UDP but not TCP: large tickets fragment. (A DC that
    // answers neither is unreachable, which its own checks say.)
    let status_of = |id: &str, dc: &str| {
        dc_checks
            .iter()
            .find(|c| c.id == id && c.target == dc)
            .map(|c| c.status)
    };
    let tcp_closed: Vec<&str> = dcs
        .iter()
        .copied()
        .filter(|dc| {
            status_of("tcp.88", dc) != Some(Status::Pass)
                && status_of("udp.88", dc) == Some(Status::Pass)
        })
        .collect();
    let title = "large tickets: Kerberos over UDP";
    Some(if tcp_closed.is_empty() {
        Check::pass(
            "kerberos.udp",
            "",
            title,
            format!(
                "TCP 88 open on every DC whose KDC answers: tickets over {UDP_SAFE_BYTES} \
                 bytes (users in many groups) go over TCP, with no UDP fragments"
            ),
        )
    } else {
        Check::fail(
            "kerberos.udp",
            "",
            title,
            format!("TCP 88 closed on {}", tcp_closed.join(", ")),
            format!(
                "tickets over {UDP_SAFE_BYTES} bytes (users in a few hundred groups) are \
                 fragmented over UDP (MTU 1500) and firewalls often drop fragments: open TCP 88 \
                 to {} on the backbone; clients use TCP when told to (krb5.conf \
                 udp_preference_limit = 1; Windows MaxPacketSize = 1)",
                tcp_closed.join(", ")
            ),
        )
    })
}

/// The symbol of a status.
pub fn symbol(status: Status) -> &'static str {
    match status {
        Status::Pass => "✔",
        Status::Warn => "!",
        Status::Fail => "✘",
        Status::Skip => "–",
    }
}

/// One line per check, its fix indented under it, and a summary line.
pub fn render_text(checks: &[Check]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for c in checks {
        let target = if c.target.is_empty() {
            String::new()
        } else {
            format!(" [{}]", c.target)
        };
        let _ = writeln!(out, "{} {}{target}: {}", symbol(c.status), c.title, c.value);
        if let (Some(fix), Status::Fail | Status::Warn) = (&c.fix, c.status) {
            let _ = writeln!(out, "    fix: {fix}");
        }
    }
    let (pass, warn, fail, skip) = counts(checks);
    let _ = writeln!(
        out,
        "{pass} passed, {warn} warning(s), {fail} failed, {skip} not checked"
    );
    out
}

/// One JSON object: every check, and the counts.
pub fn render_json(checks: &[Check]) -> String {
    let (pass, warn, fail, skip) = counts(checks);
    let list: Vec<serde_json::Value> = checks
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "target": c.target,
                "title": c.title,
                "status": c.status.as_str(),
                "value": c.value,
                "fix": c.fix,
            })
        })
        .collect();
    serde_json::json!({
        "ok": fail == 0,
        "summary": { "pass": pass, "warn": warn, "fail": fail, "skip": skip },
        "checks": list,
    })
    .to_string()
}

fn counts(checks: &[Check]) -> (usize, usize, usize, usize) {
    let n = |s| checks.iter().filter(|c| c.status == s).count();
    (
        n(Status::Pass),
        n(Status::Warn),
        n(Status::Fail),
        n(Status::Skip),
    )
}

/// 1 when any check failed, else 0 (warnings do not fail the run).
pub fn exit_code(checks: &[Check]) -> u8 {
    u8::from(checks.iter().any(|c| c.status == Status::Fail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Check> {
        vec![
            Check::pass("tcp.88", "dc1:636", "TCP 88", "open".into()),
            Check::warn(
                "udp.88",
                "dc1:636",
                "UDP 88",
                "no answer".into(),
                "allow".into(),
            ),
            Check::fail(
                "tcp.88",
                "dc2:636",
                "TCP 88",
                "refused".into(),
                "open it".into(),
            ),
            Check::skip("ldap.bind", "dc2:636", "bind", "no TCP"),
        ]
    }

    #[test]
    fn text_has_one_line_per_check_and_the_fixes() {
        let text = render_text(&sample());
        assert_eq!(
            text,
            "✔ TCP 88 [dc1:636]: open\n\
             ! UDP 88 [dc1:636]: no answer\n    fix: allow\n\
             ✘ TCP 88 [dc2:636]: refused\n    fix: open it\n\
             – bind [dc2:636]: not checked: no TCP\n\
             1 passed, 1 warning(s), 1 failed, 1 not checked\n"
        );
        assert_eq!(exit_code(&sample()), 1);
        assert_eq!(exit_code(&sample()[..2]), 0);
    }

    #[test]
    fn json_parses() {
        let v: serde_json::Value = serde_json::from_str(&render_json(&sample())).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["summary"]["fail"], 1);
        assert_eq!(v["checks"][2]["status"], "fail");
        assert_eq!(v["checks"][2]["fix"], "open it");
        assert_eq!(v["checks"][0]["fix"], serde_json::Value::Null);
    }

    #[test]
    fn udp_needs_tcp_88() {
        let open = [Check::pass("tcp.88", "dc1", "TCP 88", "open".into())];
        assert_eq!(udp_fragmentation_check(&open).unwrap().status, Status::Pass);
        let closed = [
            open[0].clone(),
            Check::fail("tcp.88", "dc2", "TCP 88", "x".into(), "y".into()),
            Check::pass("udp.88", "dc2", "UDP 88", "KDC answered".into()),
            // Neither TCP nor UDP: unreachable, not a fragmentation risk.
            Check::fail("tcp.88", "dc3", "TCP 88", "x".into(), "y".into()),
            Check::fail("udp.88", "dc3", "UDP 88", "x".into(), "y".into()),
        ];
        let c = udp_fragmentation_check(&closed).unwrap();
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.value, "TCP 88 closed on dc2");
        assert!(udp_fragmentation_check(&[]).is_none());
    }

    #[test]
    fn header_limit() {
        assert_eq!(header_limit_check(65_536).status, Status::Pass);
        let low = header_limit_check(16_384);
        assert_eq!(low.status, Status::Warn);
        assert!(low
            .fix
            .unwrap()
            .starts_with("set kerberos.max_authorization_bytes = 65536"));
    }

    #[test]
    fn keytab_modes() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("iwagw-doctor-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kt = dir.join("k.keytab");
        std::fs::write(&kt, b"\x05\x02").unwrap();
        for (mode, status) in [
            (0o600, Status::Pass),
            (0o640, Status::Pass),
            (0o660, Status::Warn),
            (0o644, Status::Fail),
        ] {
            std::fs::set_permissions(&kt, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(keytab_mode_check(&kt).status, status, "{mode:o}");
        }
        assert_eq!(keytab_mode_check(&dir.join("missing")).status, Status::Fail);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
