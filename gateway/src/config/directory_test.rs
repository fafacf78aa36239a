//! `[directory]`, `[identity]` headers and `kerberos.pac`.

use std::process::Command;

use super::*;

/// `dir` with a CA certificate (made by openssl) and a bind password file.
fn with_directory_files(dir: &Path) {
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=Test AD CA", "-keyout"])
        .arg(dir.join("ca.key"))
        .arg("-out")
        .arg(dir.join("ca.pem"))
        .output()
        .expect("openssl runs");
    assert!(status.status.success(), "{status:?}");
    write_secret(&dir.join("bind.password"), b"s3cret-Pass\n");
}

const DIRECTORY: &str = r#"
[directory]
dcs = ["dc1.corp.test", "dc2.corp.test:3269", { host = "dc3.corp.test", address = "127.0.0.23:636" }]
ca_file = "ca.pem"
bind_dn = "CN=svc-gw,CN=Users,DC=corp,DC=test"
bind_password_file = "bind.password"
base_dn = "DC=corp,DC=test"
degraded = "deny"
cache_ttl_seconds = 60

[identity]
group_patterns = ["APP-*", "Domain Users"]
attribute_headers = { mail = "X-Mail", objectGUID = "X-Guid" }
"#;

/// The good configuration with more sections.
fn good_with(extra: &str) -> String {
    format!("{GOOD}\n{extra}")
}

#[test]
fn a_directory_section_with_every_dc_form() {
    let dir = scratch("directory");
    with_directory_files(&dir);
    let text = good_with(DIRECTORY).replace(
        "spns = [\"HTTP/gw.corp.test@CORP.TEST\"]",
        "spns = [\"HTTP/gw.corp.test@CORP.TEST\"]\npac = \"require\"",
    );
    let cfg = Config::parse(&text, &dir.join("gateway.toml")).unwrap();
    assert_eq!(cfg.kerberos.pac, PacPolicy::Require);
    let d = cfg.directory.unwrap();
    let dcs: Vec<String> = d.dcs.iter().map(ToString::to_string).collect();
    assert_eq!(
        dcs,
        [
            "dc1.corp.test:636",
            "dc2.corp.test:3269",
            "dc3.corp.test:636"
        ]
    );
    assert_eq!(d.dcs[2].connect_to, Some("127.0.0.23:636".parse().unwrap()));
    assert_eq!(d.security, LdapSecurity::Ldaps);
    assert_eq!(&*d.bind_password.0, "s3cret-Pass");
    assert!(!format!("{d:?}").contains("s3cret"));
    assert_eq!(d.degraded, DegradedPolicy::Deny);
    assert_eq!(d.cache_ttl, Duration::from_secs(60));
    assert_eq!(
        d.attributes,
        ["mail", "displayName", "objectGUID", "department"]
    );
    let ldap = d.ldap_config().unwrap();
    assert_eq!(ldap.cache.ttl, Duration::from_secs(60));
    assert_eq!(ldap.base_dn, "DC=corp,DC=test");
    let id = &cfg.identity;
    assert_eq!(
        id.attributes,
        [
            ("mail".to_owned(), "X-Mail".to_owned()),
            ("objectGUID".to_owned(), "X-Guid".to_owned())
        ]
    );
    assert!(id.keeps_group(Some("app-payroll"), "S-1-5-21-1-2-3-1200"));
    assert!(id.keeps_group(Some("Domain Users"), "S-1-5-21-1-2-3-513"));
    assert!(!id.keeps_group(Some("Engineering"), "S-1-5-21-1-2-3-1111"));
    for h in [
        "X-Remote-User",
        "X-Remote-Groups",
        "X-Remote-SID",
        "X-Mail",
        "X-Guid",
    ] {
        assert!(cfg.strip_headers.iter().any(|s| s == h), "{h} not stripped");
    }
}

#[test]
fn directory_and_identity_problems_name_their_keys() {
    let dir = scratch("directory-bad");
    with_directory_files(&dir);
    std::fs::set_permissions(
        dir.join("bind.password"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let text = good_with(
        r#"
[directory]
dcs = ["dc1.corp.test:63x", { host = "dc2", address = "nowhere" }]
security = "plain"
bind_password_file = "bind.password"
base_dn = "corp.test"
degraded = "allow"
attributes = ["mail", "mail;binary"]
site = "Tokyo"

[identity]
format = "xml"
group_patterns = ["[abc"]
attribute_headers = { title = "X-Title" }
max_header_bytes = 0
"#,
    )
    .replace(
        "spns = [\"HTTP/gw.corp.test@CORP.TEST\"]",
        "spns = [\"HTTP/gw.corp.test@CORP.TEST\"]\npac = \"strict\"",
    );
    let got = problems(&text, &dir);
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "kerberos.pac",
        "directory.security",
        "directory.dcs[0]",
        "directory.dcs[1].address",
        "directory.site",
        "directory.bind_dn",
        "directory.base_dn",
        "directory.bind_password_file",
        "directory.attributes[1]",
        "directory.degraded",
        "identity.format",
        "identity.group_patterns[0]",
        "identity.attribute_headers.title",
        "identity.max_header_bytes",
    ] {
        assert!(keys.contains(&key), "no problem for {key} in {got:#?}");
    }
    let message = |key: &str| {
        got.iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.as_str())
            .unwrap_or_default()
    };
    assert!(message("directory.security").contains("insecure = true"));
    assert!(message("directory.bind_password_file").contains("chmod 600"));
    assert!(message("directory.dcs[0]").contains("not a port number"));
}

#[test]
fn tls_needs_a_ca_and_a_dc_or_discovery() {
    let dir = scratch("directory-noca");
    with_directory_files(&dir);
    let text = good_with(
        r#"
[directory]
bind_dn = "svc-gw@corp.test"
bind_password_file = "bind.password"
base_dn = "DC=corp,DC=test"
"#,
    );
    let got = problems(&text, &dir);
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["directory.dcs", "directory.ca_file"], "{got:#?}");

    // A CA file that holds no certificate.
    std::fs::write(dir.join("empty.pem"), "not a certificate\n").unwrap();
    let text = good_with(
        r#"
[directory]
srv_domain = "corp.test"
ca_file = "empty.pem"
bind_dn = "svc-gw@corp.test"
bind_password_file = "bind.password"
base_dn = "DC=corp,DC=test"
"#,
    );
    let got = problems(&text, &dir);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].0, "directory.ca_file");
    assert!(got[0].1.contains("no CERTIFICATE block"), "{got:#?}");
}
