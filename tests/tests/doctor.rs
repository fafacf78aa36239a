//! Issue 3 §4: `iwa-gateway doctor` against the test DC. A healthy setup passes (exit 0, no
//! ✘); a keytab with another kvno, an SPN registered twice, an unreachable DC address and a CA
//! that did not issue the DC's certificate each give the right ✘ line and fix (exit 1); an
//! unreadable configuration exits 2; `--json` parses.

use std::process::{Command, Output};

use e2e::{ad, gateway_bin, real_dc, Gateway, GatewayOptions, Scratch, Value};
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::principal::Principal;

const GW_SPN: &str = "HTTP/gw.corp.test";
/// A test-only SPN that the duplicate test registers on two accounts, then removes.
const DUP_SPN: &str = "HTTP/doctor-dup.corp.test";

/// A configuration for `spn` with `keytab` and a `[directory]` of `dcs` trusting `ca`.
fn config(dir: &Scratch, spn: &str, keytab: &[u8], dcs: &[String], ca: &str) -> String {
    dir.write("service.keytab", keytab, 0o600);
    let pw = format!("{}\n", ad().var("IWA_AD_BIND_PW"));
    dir.write("bind.password", pw.as_bytes(), 0o600);
    let text = format!(
        "version = 1\n\n[[listeners]]\naddress = \"127.0.0.1:1\"\n\n\
         [kerberos]\nkeytab = \"service.keytab\"\nspns = [\"{spn}@CORP.TEST\"]\n\n\
         [directory]\ndcs = [{}]\nca_file = \"{ca}\"\nbind_dn = \"{}\"\n\
         bind_password_file = \"bind.password\"\nbase_dn = \"{}\"\n\n\
         [[routes]]\nprefix = \"/\"\nupstream = \"127.0.0.1:9\"\n",
        dcs.join(", "),
        ad().var("IWA_AD_BIND_DN"),
        ad().var("IWA_AD_BASE_DN"),
    );
    dir.write("gateway.toml", text.as_bytes(), 0o600)
        .display()
        .to_string()
}

fn gw_keytab() -> Vec<u8> {
    std::fs::read(ad().path("IWA_AD_GW_KEYTAB")).expect("the gw keytab")
}

fn doctor(config: &str, json: bool) -> Output {
    let mut cmd = Command::new(gateway_bin());
    cmd.args(["doctor", "--config", config]);
    if json {
        cmd.arg("--json");
    }
    cmd.output().expect("run iwa-gateway doctor")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The line of the check titled `title` on `target`, and the fix line under it if any.
fn line<'a>(out: &'a str, title: &str, target: &str) -> (&'a str, Option<&'a str>) {
    let prefix = format!("{title} [{target}]: ");
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if l.split_once(' ')
            .is_some_and(|(_, rest)| rest.starts_with(&prefix))
        {
            let fix = lines.next().and_then(|f| f.strip_prefix("    fix: "));
            return (l, fix);
        }
    }
    panic!("no line for {title} [{target}] in:\n{out}");
}

#[test]
fn healthy_setup_passes() {
    let dir = Scratch::new("doctor-healthy");
    let ca = ad().var("IWA_AD_CA");
    let cfg = config(&dir, GW_SPN, &gw_keytab(), &[real_dc()], ca);
    let out = doctor(&cfg, false);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    for l in report.lines().filter(|l| !l.starts_with("    ")) {
        assert!(
            l.starts_with('✔')
                || l.ends_with("not checked")
                // No gateway runs with this configuration: see the test below.
                || l.starts_with("– large tokens: largest token seen: not checked"),
            "not a pass: {l}\n{report}"
        );
    }
    assert!(report.ends_with(" passed, 0 warning(s), 0 failed, 1 not checked\n"));
    let (spn, _) = line(&report, "SPN registered on exactly one account", GW_SPN);
    assert_eq!(
        spn,
        "✔ SPN registered on exactly one account [HTTP/gw.corp.test]: on CORP\\svc-gw"
    );
    let (udp, _) = line(&report, "UDP 88 (Kerberos, AS-REQ probe)", "dc1.corp.test");
    assert!(udp.contains("KDC_ERR_C_PRINCIPAL_UNKNOWN (6) for realm CORP.TEST"));

    let json: Value = serde_json::from_slice(&doctor(&cfg, true).stdout).expect("JSON");
    assert_eq!(json["ok"], true);
    assert_eq!(json["summary"]["fail"], 0);
    let ids: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "keytab.mode",
        "token.header_limit",
        "dc.discovery",
        "tcp.88",
        "tcp.389",
        "tcp.636",
        "tcp.464",
        "udp.88",
        "tls.handshake",
        "tls.certificate",
        "ldap.bind",
        "clock.skew",
        "dc.preferred",
        "spn.unique",
        "account.kvno",
        "account.enctypes",
        "kerberos.udp",
    ] {
        assert!(ids.contains(&id), "no {id} in {ids:?}");
    }
}

#[test]
fn wrong_kvno_says_the_password_changed() {
    let dir = Scratch::new("doctor-kvno");
    let mut keytab = Keytab::extract(&gw_keytab()).unwrap();
    for e in &mut keytab.entries {
        e.kvno = 7;
    }
    let ca = ad().var("IWA_AD_CA");
    let cfg = config(&dir, GW_SPN, &keytab.build(), &[real_dc()], ca);
    let out = doctor(&cfg, false);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let (l, fix) = line(&report, "keytab kvno = msDS-KeyVersionNumber", GW_SPN);
    assert_eq!(
        l,
        "✘ keytab kvno = msDS-KeyVersionNumber [HTTP/gw.corp.test]: keytab has kvno 7; AD has \
         1 for CORP\\svc-gw"
    );
    assert!(
        fix.unwrap().starts_with(
            "the keytab has kvno 7 but AD has msDS-KeyVersionNumber 1 for CORP\\svc-gw: the \
             password changed after the keytab was exported; export a new keytab into "
        ),
        "{report}"
    );
}

#[test]
fn unreachable_dc_names_the_port_and_the_backbone() {
    let dir = Scratch::new("doctor-dead");
    let ca = ad().var("IWA_AD_CA");
    // Nothing is bound to 127.0.0.99: connections are refused at once.
    let dcs = ["\"127.0.0.99:636\"".to_owned(), real_dc()];
    let cfg = config(&dir, GW_SPN, &gw_keytab(), &dcs, ca);
    let out = doctor(&cfg, false);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let (l, fix) = line(&report, "TCP 636 (LDAPS)", "127.0.0.99");
    assert_eq!(l, "✘ TCP 636 (LDAPS) [127.0.0.99]: connection refused");
    assert_eq!(
        fix,
        Some(
            "nothing answers on TCP port 636 of 127.0.0.99 (127.0.0.99): connection refused; \
             check the firewall/route on the backbone between the gateway and 127.0.0.99 (TCP \
             636 must be allowed from the gateway to the DC)"
        )
    );
    // The live DC still serves: it is preferred, and the account checks pass on it.
    let (preferred, _) = line(
        &report,
        "preferred DC (lowest bind latency)",
        "dc1.corp.test:636",
    );
    assert!(preferred.starts_with('✔'), "{report}");
    assert!(line(&report, "keytab kvno = msDS-KeyVersionNumber", GW_SPN)
        .0
        .starts_with('✔'));
}

#[test]
fn bad_ca_names_the_issuer_and_the_ca_file() {
    let dir = Scratch::new("doctor-ca");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null"])
        .args(["-subj", "/CN=unrelated test CA", "-days", "1"])
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl req failed");
    let ca = dir.write("unrelated-ca.pem", &out.stdout, 0o644);
    let ca = ca.display().to_string();
    let cfg = config(&dir, GW_SPN, &gw_keytab(), &[real_dc()], &ca);
    let out = doctor(&cfg, false);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let title = "TLS handshake and certificate chain";
    let (l, fix) = line(&report, title, "dc1.corp.test:636");
    assert_eq!(
        l,
        "✘ TLS handshake and certificate chain [dc1.corp.test:636]: certificate not trusted: \
         issued by CN=iwa-gateway test CA"
    );
    assert_eq!(
        fix.unwrap(),
        format!(
            "the DC's certificate is issued by CN=iwa-gateway test CA, not by a CA in {ca}; put \
             the issuing CA (the AD CS root) in ca_file"
        )
    );
}

/// Registers [`DUP_SPN`] on svc-gw and, behind Samba's uniqueness check, on svc-other too;
/// removes both on drop.
struct DuplicateSpn;

impl DuplicateSpn {
    fn ldif(op: &str) -> String {
        format!(
            "dn: CN=svc-other,CN=Users,{}\nchangetype: modify\n{op}: servicePrincipalName\n\
             servicePrincipalName: {DUP_SPN}\n",
            ad().var("IWA_AD_BASE_DN")
        )
    }

    /// `ldbmodify` on the domain partition's file itself: below the samldb module, which
    /// refuses duplicate SPNs as Windows Server 2012 R2 and later do. Older DCs and direct
    /// database edits are how real duplicates come about.
    fn modify_other(op: &str) -> bool {
        let state = ad().path("IWA_AD_STATE");
        let partition = state.join("dc/private/sam.ldb.d/DC=CORP,DC=TEST.ldb");
        let ldif = state.join(format!("doctor-dup-{op}.ldif"));
        std::fs::write(&ldif, Self::ldif(op)).expect("write the LDIF");
        let out = Command::new("ldbmodify")
            .arg("-H")
            .arg(format!("tdb://{}", partition.display()))
            .arg(&ldif)
            .output()
            .expect("ldbmodify (installed with samba)");
        let _ = std::fs::remove_file(&ldif);
        out.status.success()
    }

    fn samba_tool(args: &[&str]) -> bool {
        let smb_conf = ad().path("IWA_AD_STATE").join("smb.conf");
        Command::new("samba-tool")
            .args(args)
            .arg("-s")
            .arg(smb_conf)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn remove() {
        let _ = Self::modify_other("delete");
        let _ = Self::samba_tool(&["spn", "delete", DUP_SPN, "svc-gw"]);
    }

    fn add() -> Self {
        Self::remove();
        assert!(
            Self::samba_tool(&["spn", "add", DUP_SPN, "svc-gw"]),
            "samba-tool spn add {DUP_SPN} svc-gw failed"
        );
        let guard = Self;
        assert!(
            Self::modify_other("add"),
            "ldbmodify (add the duplicate) failed"
        );
        guard
    }
}

impl Drop for DuplicateSpn {
    fn drop(&mut self) {
        Self::remove();
    }
}

#[test]
fn duplicate_spn_names_the_account_to_remove_it_from() {
    let dir = Scratch::new("doctor-dup");
    // svc-gw's keys under the test SPN: the keytab matches the account that keeps it.
    let mut keytab = Keytab::extract(&gw_keytab()).unwrap();
    let principal = Principal::parse(&format!("{DUP_SPN}@CORP.TEST")).unwrap();
    for e in &mut keytab.entries {
        e.principal = principal.clone();
    }
    let ca = ad().var("IWA_AD_CA");
    let cfg = config(&dir, DUP_SPN, &keytab.build(), &[real_dc()], ca);
    let guard = DuplicateSpn::add();
    let out = doctor(&cfg, false);
    drop(guard);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let (l, fix) = line(&report, "SPN registered on exactly one account", DUP_SPN);
    assert!(
        l == format!(
            "✘ SPN registered on exactly one account [{DUP_SPN}]: registered on 2 accounts: \
             CORP\\svc-gw, CORP\\svc-other"
        ) || l
            == format!(
                "✘ SPN registered on exactly one account [{DUP_SPN}]: registered on 2 \
                 accounts: CORP\\svc-other, CORP\\svc-gw"
            ),
        "{report}"
    );
    assert_eq!(
        fix.unwrap(),
        format!(
            "a duplicate SPN makes the KDC encrypt tickets with either account's key, so \
             sign-ins fail at random: setspn -D {DUP_SPN} CORP\\svc-other; keep it on \
             CORP\\svc-gw, whose keys the keytab holds"
        )
    );
    // The account that keeps it is still compared with the keytab.
    assert!(
        line(&report, "keytab kvno = msDS-KeyVersionNumber", DUP_SPN)
            .0
            .starts_with('✔')
    );
}

#[test]
fn unreadable_configuration_exits_2() {
    let out = doctor("/nonexistent/gateway.toml", false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

/// With the gateway running, doctor reads the largest token it has seen from the admin
/// listener: dave's (1000 groups) fits 64 KiB and does not fit 8 KiB.
#[test]
fn the_largest_token_seen_is_compared_with_the_limit() {
    let gw = Gateway::start(
        "doctor-token",
        &GatewayOptions::gw().with_directory(&[real_dc()], &[]),
    );
    let dave = gw.kinit("dave");
    let r = gw.curl("/app/").negotiate(&dave).send();
    assert_eq!(r.status, 200, "{r:?}");
    let config = gw.dir().join("gateway.toml");
    let out = doctor(&config.display().to_string(), false);
    let report = text(&out);
    let seen = report
        .lines()
        .find(|l| l.contains("largest token seen"))
        .unwrap_or_else(|| panic!("no largest-token line in\n{report}"));
    assert!(
        seen.starts_with("✔ large tokens: largest token seen ["),
        "{seen}"
    );
    assert!(seen.ends_with("limit 65536"), "{seen}");

    let small = std::fs::read_to_string(&config).unwrap().replace(
        "[kerberos]\n",
        "[kerberos]\nmax_authorization_bytes = 8192\n",
    );
    let small_path = gw.dir().write("small.toml", small.as_bytes(), 0o600);
    let out = doctor(&small_path.display().to_string(), false);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let mut lines = report
        .lines()
        .skip_while(|l| !l.contains("largest token seen"));
    let seen = lines.next().unwrap_or_default();
    assert!(
        seen.starts_with("✘ large tokens: largest token seen"),
        "{report}"
    );
    let fix = lines.next().unwrap_or_default();
    assert!(
        fix.contains("users with such tokens get 431: raise kerberos.max_authorization_bytes"),
        "{report}"
    );
}
