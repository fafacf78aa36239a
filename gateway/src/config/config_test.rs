use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use kdc_bridge::proto::acceptor::PacPolicy;
use kdc_bridge::proto::crypto::{Enctype, Key};
use kdc_bridge::proto::keytab::{Keytab, KeytabEntry};

use super::*;

/// A scratch directory with a keytab (mode 0600) and a session key.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iwagw-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
    let key = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[1; 32]).unwrap();
    let kt = Keytab {
        entries: vec![KeytabEntry::new(p, 2, key, 0)],
    }
    .build();
    write_secret(&dir.join("http.keytab"), &kt);
    write_secret(
        &dir.join("session.key"),
        b"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n",
    );
    dir
}

fn write_secret(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

const GOOD: &str = r#"
version = 1

[[listeners]]
address = "127.0.0.1:8080"

[admin]
address = "127.0.0.1:9090"

[kerberos]
keytab = "http.keytab"
spns = ["HTTP/gw.corp.test@CORP.TEST"]

[session]
key_files = ["session.key"]

[[routes]]
prefix = "/"
upstream = "127.0.0.1:8081"

[[routes]]
prefix = "/public"
upstream = "127.0.0.1:8082"
auth = "public"
"#;

fn problems(text: &str, dir: &Path) -> Vec<(String, String)> {
    match Config::parse(text, &dir.join("gateway.toml")) {
        Ok(_) => vec![],
        Err(e) => e.problems.into_iter().map(|p| (p.key, p.message)).collect(),
    }
}

#[test]
fn accepts_the_good_config() {
    let dir = scratch("good");
    let cfg = Config::parse(GOOD, &dir.join("gateway.toml")).unwrap();
    assert_eq!(cfg.listeners.len(), 1);
    assert_eq!(cfg.kerberos.max_skew_secs, 300);
    assert_eq!(cfg.kerberos.initial_keys.len(), 1);
    assert_eq!(cfg.kerberos.max_authorization_bytes, 65536);
    assert_eq!(cfg.session.as_ref().unwrap().keys.len(), 1);
    // Longest prefix first.
    assert_eq!(cfg.routes[0].prefix, "/public");
    assert_eq!(cfg.routes[0].auth, RouteAuth::Public);
    assert_eq!(cfg.routes[1].sni, "127.0.0.1");
    // Every identity header the gateway may set is stripped from clients.
    assert_eq!(
        cfg.strip_headers,
        ["X-Remote-User", "X-Remote-Groups", "X-Remote-SID"]
    );
    assert!(cfg.directory.is_none());
    assert_eq!(cfg.kerberos.pac, PacPolicy::VerifyIfPresent);
}

#[path = "directory_test.rs"]
mod directory;

#[test]
fn the_keepalive_timeout_defaults_to_a_minute_and_is_at_most_a_day() {
    let dir = scratch("keepalive");
    let path = dir.join("gateway.toml");
    assert_eq!(
        Config::parse(GOOD, &path).unwrap().keepalive_timeout_secs,
        60
    );
    let with = |v: &str| {
        GOOD.replace(
            "version = 1",
            &format!("version = 1\n[server]\nkeepalive_timeout_seconds = {v}"),
        )
    };
    assert_eq!(
        Config::parse(&with("5"), &path)
            .unwrap()
            .keepalive_timeout_secs,
        5
    );
    for (v, got) in [("0", "0"), ("86401", "86401")] {
        assert_eq!(
            problems(&with(v), &dir),
            [(
                "server.keepalive_timeout_seconds".to_owned(),
                format!("must be between 1 and 86400 (a day), got {got}")
            )]
        );
    }
}

#[test]
fn names_the_key_and_the_problem() {
    let dir = scratch("bad");
    let text = GOOD
        .replace("keytab = \"http.keytab\"", "keytab = \"/etc/x.keytab\"")
        .replace("address = \"127.0.0.1:8080\"", "address = \"localhost\"")
        .replace("prefix = \"/public\"", "prefix = \"public\"");
    assert_eq!(
        problems(&text, &dir),
        vec![
            (
                "listeners[0].address".into(),
                "`localhost` is not an address like 127.0.0.1:8080 or [::]:443".into()
            ),
            (
                "kerberos.keytab".into(),
                "file /etc/x.keytab not found".into()
            ),
            (
                "routes[1].prefix".into(),
                "`public` must start with /".into()
            ),
        ]
    );
}

#[test]
fn rejects_unknown_keys_with_the_line() {
    let dir = scratch("unknown");
    let text = GOOD.replace("[admin]", "[admin]\nadress = \"x\"");
    let p = problems(&text, &dir);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "line 8");
    assert!(p[0].1.contains("unknown field `adress`"), "{}", p[0].1);
}

#[test]
fn rejects_world_readable_secrets_and_wrong_spns() {
    let dir = scratch("perm");
    std::fs::set_permissions(
        dir.join("http.keytab"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let p = problems(GOOD, &dir);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "kerberos.keytab");
    assert!(
        p[0].1
            .ends_with("can be read by any user (mode 0644); run chmod 600 on it"),
        "{}",
        p[0].1
    );

    let dir = scratch("spn");
    let text = GOOD.replace(
        "HTTP/gw.corp.test@CORP.TEST\"]",
        "HTTP/gw.corp.test@CORP.TEST\", \"HTTP/other@CORP.TEST\"]",
    );
    assert_eq!(
        problems(&text, &dir),
        vec![(
            "kerberos.spns[1]".into(),
            "the keytab has no key for HTTP/other@CORP.TEST; it has keys for HTTP/gw.corp.test@CORP.TEST".into()
        )]
    );
}

/// Found with the `config_toml` fuzz target: `body_file = "/dev/zero"` was read to the end,
/// allocating without bound; a FIFO would have blocked the start-up.
#[test]
fn fuzz_config_toml_challenge_body_from_a_device() {
    let dir = scratch("device");
    let text = format!("{GOOD}\n[challenge]\nbody_file = \"/dev/zero\"\n");
    assert_eq!(
        problems(&text, &dir),
        vec![(
            "challenge.body_file".into(),
            "/dev/zero is not a regular file".into()
        )]
    );

    let page = dir.join("big.html");
    std::fs::write(&page, vec![b'a'; MAX_CHALLENGE_BODY_BYTES + 1]).unwrap();
    let text = format!("{GOOD}\n[challenge]\nbody_file = \"big.html\"\n");
    assert_eq!(
        problems(&text, &dir),
        vec![(
            "challenge.body_file".into(),
            format!("{} is larger than 1 MiB", page.display())
        )]
    );
    std::fs::write(&page, vec![b'a'; MAX_CHALLENGE_BODY_BYTES]).unwrap();
    let cfg = Config::parse(&text, &dir.join("gateway.toml")).unwrap();
    assert_eq!(cfg.challenge_body.len(), MAX_CHALLENGE_BODY_BYTES);

    // Secrets too must be regular files (a directory of mode 0700 passes the mode check).
    std::fs::remove_file(dir.join("session.key")).unwrap();
    std::fs::create_dir(dir.join("session.key")).unwrap();
    std::fs::set_permissions(
        dir.join("session.key"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    assert_eq!(
        problems(GOOD, &dir),
        vec![(
            "session.key_files[0]".into(),
            format!(
                "{} is not a regular file",
                dir.join("session.key").display()
            )
        )]
    );
}

#[test]
fn checks_versions_values_and_session_keys() {
    let dir = scratch("values");
    write_secret(&dir.join("session.key"), b"short");
    let text = GOOD
        .replace("version = 1", "version = 2")
        .replace(
            "spns = [",
            "max_skew_seconds = 0\nchannel_bindings = \"maybe\"\nspns = [",
        )
        .replace(
            "prefix = \"/public\"\nupstream = \"127.0.0.1:8082\"",
            "prefix = \"/public\"\nupstream = \"nohost\"",
        );
    let p = problems(&text, &dir);
    let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "version",
            "kerberos.channel_bindings",
            "kerberos.max_skew_seconds",
            "session.key_files[0]",
            "routes[1].upstream"
        ]
    );
    assert!(
        p[3].1.ends_with("not base64: expected 32 octets in base64"),
        "{}",
        p[3].1
    );
}

#[test]
fn example_config_passes_the_syntax_check() {
    // The shipped example names production paths; everything but those files must check.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gateway.toml");
    let cfg = Config::load_with(&path, FileChecks::Skip).unwrap();
    assert_eq!(cfg.routes.len(), 3);
    assert!(cfg.kerberos.initial_keys.is_empty());
    // Reading the files fails, naming each one.
    let err = Config::load(&path).unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "listeners[0].tls.cert",
            "listeners[0].tls.key",
            "kerberos.keytab",
            "session.key_files[0]",
            "directory.ca_file",
            "directory.bind_password_file",
        ]
    );
}

#[test]
fn saml_problems_name_their_keys() {
    let dir = scratch("saml");
    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/saml");
    write_secret(
        &dir.join("saml.key"),
        &std::fs::read(vectors.join("idp.key")).unwrap(),
    );
    std::fs::write(
        dir.join("open.key"),
        std::fs::read(vectors.join("idp.key")).unwrap(),
    )
    .unwrap();
    std::fs::set_permissions(dir.join("open.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let good = format!(
        "{GOOD}\n[saml]\nbase_url = \"https://gw.corp.test/\"\nsigning_key = \"saml.key\"\n\
         signing_cert = \"{}\"\n[[saml.service_providers]]\nentity_id = \"https://sp\"\n\
         acs = [{{ url = \"https://sp/acs\" }}]\n",
        vectors.join("idp.pem").display()
    );
    let cfg = Config::parse(&good, &dir.join("gw.toml")).unwrap();
    let saml = cfg.saml.unwrap();
    assert_eq!(saml.entity_id, "https://gw.corp.test/saml/metadata");
    assert!(saml.signer.is_some());
    assert_eq!(saml.sps[0].default_acs().unwrap().url, "https://sp/acs");

    let bad = format!(
        "{GOOD}\n[saml]\nbase_url = \"http://gw\"\nsigning_key = \"open.key\"\n\
         signing_cert = \"missing.pem\"\ndefault_language = \"fr\"\n\
         [[saml.service_providers]]\nentity_id = \"https://sp\"\n\
         acs = [{{ url = \"ftp://sp/acs\", binding = \"artifact\" }}]\n\
         request_signatures = \"required\"\nname_id = {{ source = \"pairwise\" }}\nsign = \"all\"\n\
         [[saml.service_providers]]\nentity_id = \"https://sp\"\nacs = []\n"
    );
    let p = problems(&bad, &dir);
    let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "saml.base_url",
        "saml.signing_key",
        "saml.signing_cert",
        "saml.default_language",
        "saml.service_providers[0].acs[0].url",
        "saml.service_providers[0].acs[0].binding",
        "saml.service_providers[0].request_signatures",
        "saml.service_providers[0].sign",
        "saml.service_providers[0]",
        "saml.service_providers[1].acs",
        "saml.service_providers[1].entity_id",
    ] {
        assert!(keys.contains(&key), "{key} not in {p:?}");
    }
}
