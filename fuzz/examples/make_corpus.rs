//! Writes the seed corpus, `fuzz/corpus/<target>/<seed>`, from the builders and from the
//! Samba captures in `kdc-bridge/tests/vectors/samba/`, plus the fuzz regression vectors there
//! (`fuzz-<target>-*.bin`). Run it from fuzz/:
//! `cargo run --example make_corpus` (an argument names another output directory).
//!
//! Everything is deterministic except the session cookies' random nonces.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use gateway::session::{KeyRing, Session, SessionKey, SignInMethod};
use kdc_bridge::proto::acceptor::Randomness;
use kdc_bridge::proto::crypto::{Enctype, Key, KeyUsage};
use kdc_bridge::proto::der::{self, tag};
use kdc_bridge::proto::gss::{flags, CKSUMTYPE_GSSAPI};
use kdc_bridge::proto::keytab::{Keytab, KeytabEntry};
use kdc_bridge::proto::krb::build::{
    build_authenticator, build_authorization_data, build_enc_ticket_part, AuthenticatorSpec,
    EncTicketPartSpec, Name,
};
use kdc_bridge::proto::krb::messages::{extract_ap_req, extract_enc_ticket_part};
use kdc_bridge::proto::mint::{mint_ap_req, raw_token, spnego_token, TokenSpec};
use kdc_bridge::proto::principal::Principal;
use kdc_bridge::proto::spnego::{build_neg_token_init, extract_client_token, oid, KrbOid};

/// Must equal `NOW` in `fuzz_targets/acceptor.rs` and `session_cookie.rs`: the time of the
/// Samba captures (`kdc-bridge/tests/vectors/samba/captured-at`).
const NOW: i64 = 1_795_259_762;
/// The acceptor target's synthetic keys (kvno 2).
const AES256: [u8; 32] = [0x42; 32];
const AES128: [u8; 16] = [0x43; 16];
const RC4: [u8; 16] = [0x44; 16];
/// The session_cookie target's key file.
const SESSION_KEY_FILE: &[u8] = b"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";

/// The acceptor tests' counter "RNG".
struct Counter(u64);

impl Randomness for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *b = (self.0 >> 56) as u8;
        }
    }
}

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
}

fn principal(s: &str) -> Principal {
    Principal::parse(s).expect("valid principal")
}

fn key(enctype: Enctype, bytes: &[u8]) -> Key {
    Key::from_bytes(enctype, bytes).expect("right length")
}

/// A file of the Samba captures.
fn capture(samba: &Path, name: &str) -> Vec<u8> {
    std::fs::read(samba.join(name)).expect("Samba capture")
}

/// MS-NLMP §2.2.1.1 NEGOTIATE_MESSAGE as Windows 10 sends it without a ticket: flags
/// 0xe2088297, empty domain and workstation, version 10.0.17763.
fn ntlm_negotiate() -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend(1u32.to_le_bytes());
    m.extend(0xe208_8297u32.to_le_bytes());
    m.extend([0; 16]);
    m.extend([0x0a, 0x00, 0x63, 0x45, 0x00, 0x00, 0x00, 0x0f]);
    m
}

/// MS-NEGOEX §2.2.6.3 NEGO_MESSAGE (INITIATOR_NEGO) offering one auth scheme.
fn negoex_initiator_nego() -> Vec<u8> {
    let header_len = 96u32;
    let total = header_len + 16;
    let mut m = b"NEGOEXTS".to_vec();
    m.extend(0u32.to_le_bytes()); // MESSAGE_TYPE_INITIATOR_NEGO
    m.extend(0u32.to_le_bytes()); // SequenceNum
    m.extend(header_len.to_le_bytes());
    m.extend(total.to_le_bytes());
    m.extend([0x11; 16]); // ConversationId
    m.extend([0x5a; 32]); // Random
    m.extend(0u64.to_le_bytes()); // ProtocolVersion
    m.extend(header_len.to_le_bytes()); // AuthSchemes: offset, count 1, padding
    m.extend([1, 0, 0, 0]);
    m.extend(0u32.to_le_bytes()); // Extensions: none
    m.extend([0, 0, 0, 0]);
    m.extend([0x22; 16]); // the AuthScheme GUID
    m
}

/// A NegTokenInit with `mechs` and an arbitrary optimistic token.
fn neg_token_init(mechs: &[&[u8]], mech_token: &[u8]) -> Vec<u8> {
    let list: Vec<u8> = mechs
        .iter()
        .flat_map(|m| der::tlv(tag::OID, &[m]))
        .collect();
    let mech_types = der::tlv(tag::context(0), &[&der::tlv(tag::SEQUENCE, &[&list])]);
    let token = der::tlv(
        tag::context(2),
        &[&der::tlv(tag::OCTET_STRING, &[mech_token])],
    );
    let init = der::tlv(
        tag::context(0),
        &[&der::tlv(tag::SEQUENCE, &[&mech_types, &token])],
    );
    der::tlv(
        tag::APPLICATION_0,
        &[&der::tlv(tag::OID, &[oid::SPNEGO]), &init],
    )
}

/// Client tokens: minted with the synthetic keys, captured from Samba, NTLM and NegoEx.
fn tokens(samba: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let service = principal("HTTP/gw.corp.test@CORP.TEST");
    let alice = principal("alice@CORP.TEST");
    let aes256 = key(Enctype::Aes256CtsHmacSha196, &AES256);
    let aes128 = key(Enctype::Aes128CtsHmacSha196, &AES128);
    let rc4 = key(Enctype::Rc4Hmac, &RC4);
    let mut rng = Counter(7);
    let mut mint = |service_key: &Key, kvno, spec: &TokenSpec| {
        mint_ap_req(&service, service_key, kvno, spec, &mut rng).ap_req
    };
    let spec = |enctype| TokenSpec::new(alice.clone(), enctype, NOW);
    let mut out = Vec::new();

    let ap = mint(&aes256, Some(2), &spec(Enctype::Aes256CtsHmacSha196));
    out.push((
        "minted-aes256-spnego-ms.bin",
        spnego_token(&ap, KrbOid::Microsoft),
    ));
    out.push((
        "minted-aes256-spnego-windows-mechs.bin",
        build_neg_token_init(&[oid::MS_KRB5, oid::KRB5, oid::NEGOEX, oid::NTLMSSP], &ap),
    ));
    let ap = mint(&aes128, Some(2), &spec(Enctype::Aes128CtsHmacSha196));
    out.push((
        "minted-aes128-spnego-std.bin",
        spnego_token(&ap, KrbOid::Standard),
    ));
    let ap = mint(&rc4, Some(2), &spec(Enctype::Rc4Hmac));
    out.push(("minted-rc4-raw.bin", raw_token(&ap)));

    let mut s = spec(Enctype::Aes256CtsHmacSha196);
    s.ap_options = 0;
    s.gss_flags = flags::SEQUENCE;
    s.subkey = false;
    let ap = mint(&aes256, None, &s);
    out.push(("minted-aes256-raw-no-mutual-no-kvno.bin", raw_token(&ap)));

    // A PAC-shaped AD-IF-RELEVANT and a delegated TGT in the GSS checksum.
    let mut s = spec(Enctype::Aes256CtsHmacSha196);
    let pac = build_authorization_data(&[(128, &[0x04, 0, 0, 0, 0, 0, 0, 0][..])]);
    s.authorization_data = Some(build_authorization_data(&[(1, &pac[..])]));
    let mut cksum = 16u32.to_le_bytes().to_vec();
    cksum.extend([0; 16]);
    cksum.extend((flags::MUTUAL | flags::DELEG).to_le_bytes());
    cksum.extend(1u16.to_le_bytes());
    cksum.extend(4u16.to_le_bytes());
    cksum.extend([0x76, 0x02, 0x30, 0x00]);
    s.checksum_override = Some(Some((CKSUMTYPE_GSSAPI, cksum)));
    let ap = mint(&aes256, Some(2), &s);
    out.push((
        "minted-aes256-pac-delegated.bin",
        spnego_token(&ap, KrbOid::Microsoft),
    ));

    let mut s = spec(Enctype::Aes256CtsHmacSha196);
    s.channel_binding = [0xcb; 16];
    let ap = mint(&aes256, Some(2), &s);
    out.push((
        "minted-aes256-channel-bound.bin",
        spnego_token(&ap, KrbOid::Microsoft),
    ));

    let mut s = spec(Enctype::Aes256CtsHmacSha196);
    s.authtime = NOW - 50_000;
    s.starttime = None;
    s.endtime = NOW - 40_000;
    let ap = mint(&aes256, Some(2), &s);
    out.push((
        "minted-aes256-expired.bin",
        spnego_token(&ap, KrbOid::Microsoft),
    ));

    for (name, file) in [
        ("samba-alice-spnego.bin", "alice-aes256-spnego.bin"),
        ("samba-alice-raw.bin", "alice-aes256-raw.bin"),
        ("samba-alice-rc4-spnego.bin", "alice-rc4-ticket-spnego.bin"),
        (
            "samba-dave-1000-groups-spnego.bin",
            "dave-1000-groups-spnego.bin",
        ),
    ] {
        out.push((name, capture(samba, file)));
    }

    out.push(("ntlm-negotiate.bin", ntlm_negotiate()));
    out.push((
        "ntlm-in-spnego.bin",
        neg_token_init(&[oid::NTLMSSP], &ntlm_negotiate()),
    ));
    out.push((
        "negoex-in-spnego.bin",
        neg_token_init(
            &[oid::NEGOEX, oid::MS_KRB5, oid::KRB5, oid::NTLMSSP],
            &negoex_initiator_nego(),
        ),
    ));
    out
}

/// AP-REQs, and decrypted EncTicketParts and Authenticators (real ones from the Samba
/// captures, decrypted with that domain's keytabs).
fn kerberos_messages(samba: &Path, tokens: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, token) in tokens {
        let wanted = [
            "minted-aes256-spnego-ms.bin",
            "minted-rc4-raw.bin",
            "samba-alice-spnego.bin",
            "samba-alice-rc4-spnego.bin",
        ];
        if !wanted.contains(name) {
            continue;
        }
        let ap_req = extract_client_token(token)
            .expect("a Kerberos token")
            .ap_req;
        out.push((format!("ap-req-{name}"), ap_req.to_vec()));
    }

    for (name, token, keytab) in [
        ("alice", "samba-alice-spnego.bin", "gw.keytab"),
        ("alice-rc4", "samba-alice-rc4-spnego.bin", "rc4.keytab"),
    ] {
        let token = &tokens
            .iter()
            .find(|(n, _)| *n == token)
            .expect("captured")
            .1;
        let ap_req = extract_client_token(token).expect("Kerberos").ap_req;
        let ap_req = extract_ap_req(ap_req).expect("AP-REQ");
        let kt = Keytab::extract(&capture(samba, keytab)).expect("keytab parses");
        let enc = ap_req.ticket.enc_part;
        let service_key = kt
            .entries
            .iter()
            .filter_map(|e| e.key.as_ref())
            .find(|k| k.enctype().etype() == enc.etype)
            .expect("the ticket's enctype is in the keytab");
        let part = service_key
            .usage_key(KeyUsage::KDC_REP_TICKET)
            .and_then(|k| k.decrypt(enc.cipher))
            .expect("the keytab decrypts the ticket");
        let parsed = extract_enc_ticket_part(&part).expect("EncTicketPart");
        let session = Enctype::try_from(parsed.key.keytype)
            .ok()
            .and_then(|e| Key::from_bytes(e, parsed.key.value).ok())
            .expect("session key");
        let auth = session
            .usage_key(KeyUsage::AP_REQ_AUTHENTICATOR)
            .and_then(|k| k.decrypt(ap_req.authenticator.cipher))
            .expect("the session key decrypts the authenticator");
        out.push((format!("enc-ticket-part-samba-{name}.bin"), part));
        out.push((format!("authenticator-samba-{name}.bin"), auth));
    }

    let cname = ["alice"];
    out.push((
        "enc-ticket-part-built.bin".into(),
        build_enc_ticket_part(&EncTicketPartSpec {
            flags: 0x4081_0000,
            session_key: (18, &AES256),
            crealm: "CORP.TEST",
            cname: Name {
                name_type: 1,
                components: &cname,
            },
            authtime: NOW,
            starttime: Some(NOW),
            endtime: NOW + 36_000,
            renew_till: Some(NOW + 604_800),
            authorization_data: Some(&build_authorization_data(&[(1, &[0x30, 0x00][..])])),
        }),
    ));
    out.push((
        "authenticator-built.bin".into(),
        build_authenticator(&AuthenticatorSpec {
            crealm: "CORP.TEST",
            cname: Name {
                name_type: 1,
                components: &cname,
            },
            cksum: Some((CKSUMTYPE_GSSAPI, &[0x10, 0, 0, 0, 0, 0, 0, 0][..])),
            cusec: 999_999,
            ctime: NOW,
            subkey: Some((17, &AES128)),
            seq_number: Some(0x3fff_ffff),
        }),
    ));
    out
}

/// Keytabs: the Samba ones, one written by `Keytab::build`, and hand-made ones for the parts
/// `build` never writes (format 0x501, holes, unsupported enctypes).
fn keytabs(samba: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let gw = principal("HTTP/gw.corp.test@CORP.TEST");
    let built = Keytab {
        entries: vec![
            KeytabEntry::new(gw.clone(), 2, key(Enctype::Aes256CtsHmacSha196, &AES256), 0),
            KeytabEntry::new(gw.clone(), 2, key(Enctype::Aes128CtsHmacSha196, &AES128), 0),
            KeytabEntry::new(gw, 300, key(Enctype::Rc4Hmac, &RC4), 1_700_000_000),
        ],
    }
    .build();

    // 0x501 (little-endian, the count includes the realm, no name type): one rc4 entry.
    let mut v1 = vec![0x05, 0x01];
    let mut body = Vec::new();
    body.extend(3u16.to_le_bytes());
    for s in ["CORP.TEST", "HTTP", "gw.corp.test"] {
        body.extend((s.len() as u16).to_le_bytes());
        body.extend(s.as_bytes());
    }
    body.extend(1_700_000_000u32.to_le_bytes());
    body.push(5);
    body.extend(23u16.to_le_bytes());
    body.extend(16u16.to_le_bytes());
    body.extend(RC4);
    v1.extend((body.len() as u32).to_le_bytes());
    v1.extend(body);

    // 0x502: a hole, a des-cbc-md5 entry (kept, not usable) with vno32 and flags, an end mark.
    let mut v2 = vec![0x05, 0x02];
    v2.extend((-12i32).to_be_bytes());
    v2.extend([0; 12]);
    let mut body = Vec::new();
    body.extend(1u16.to_be_bytes());
    for s in ["CORP.TEST", "svc-old"] {
        body.extend((s.len() as u16).to_be_bytes());
        body.extend(s.as_bytes());
    }
    body.extend(1u32.to_be_bytes());
    body.extend(1_600_000_000u32.to_be_bytes());
    body.push(0);
    body.extend(3u16.to_be_bytes());
    body.extend(8u16.to_be_bytes());
    body.extend([0x5d; 8]);
    body.extend(258u32.to_be_bytes());
    body.extend(0u32.to_be_bytes());
    v2.extend((body.len() as u32).to_be_bytes());
    v2.extend(body);
    v2.extend(0u32.to_be_bytes());

    vec![
        ("samba-gw.keytab", capture(samba, "gw.keytab")),
        ("samba-rc4.keytab", capture(samba, "rc4.keytab")),
        ("built-aes-rc4-kvno300.keytab", built),
        ("v501-rc4.keytab", v1),
        ("v502-hole-des-vno32.keytab", v2),
    ]
}

fn headers(tokens: &[(&str, Vec<u8>)]) -> Vec<(&'static str, Vec<u8>)> {
    let token = |name: &str| &tokens.iter().find(|(n, _)| *n == name).expect("token").1;
    vec![
        (
            "samba-alice.txt",
            format!(
                "Negotiate {}",
                STANDARD.encode(token("samba-alice-spnego.bin"))
            )
            .into(),
        ),
        (
            "samba-dave-1000-groups.txt",
            format!(
                "Negotiate {}",
                STANDARD.encode(token("samba-dave-1000-groups-spnego.bin"))
            )
            .into(),
        ),
        (
            "lowercase-unpadded-spaces.txt",
            format!(
                "  negotiate   {}  ",
                STANDARD_NO_PAD.encode(token("minted-rc4-raw.bin"))
            )
            .into(),
        ),
        (
            "ntlm.txt",
            format!("Negotiate {}", STANDARD.encode(ntlm_negotiate())).into(),
        ),
        ("basic.txt", b"Basic YWxpY2U6cHc=".to_vec()),
        ("bare.txt", b"Negotiate".to_vec()),
    ]
}

fn configs(repo: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let example = std::fs::read(repo.join("examples/gateway.toml")).expect("example config");
    let minimal = br#"version = 1

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
    let everything = br#"version = 1

[server]
threads = 2
grace_period_seconds = 0
graceful_shutdown_timeout_seconds = 1

[[listeners]]
address = "[::]:8443"
http2 = false
tls = { cert = "tls/gw.pem", key = "tls/gw.key" }

[kerberos]
keytab = "keys/http.keytab"
spns = ["HTTP/gw.corp.test@CORP.TEST", "HTTP/gw\\/odd@CORP.TEST"]
max_skew_seconds = 60
keytab_poll_seconds = 1
retired_key_retention_seconds = 0
replay_cache_capacity = 10
channel_bindings = "ignore"
max_authorization_bytes = 1024

[session]
enabled = true
cookie_name = "gw.sess-1"
key_files = ["a.key", "b.key"]
lifetime_seconds = 60

[identity]
user_header = "X-User"
strip_headers = ["X-Groups", "X-Email"]

[challenge]
body_file = "challenge.html"

[[routes]]
prefix = "/app/"
upstream = "[::1]:9000"
tls = true
sni = "app.corp.test"

[log]
level = "info,security=debug"
format = "json"
"#;
    let broken = br#"version = 2

[[listeners]]
address = "localhost"
http2 = true

[kerberos]
keytab = "missing.keytab"
spns = ["HTTP/gw.corp.test", "a/b/c/d/e/f/g/h/i@R", ""]
max_skew_seconds = -1
channel_bindings = "maybe"
max_authorization_bytes = 10

[session]
cookie_name = "bad name"
lifetime_seconds = 0

[identity]
user_header = "X User"

[[routes]]
prefix = "app"
upstream = "app"
auth = "basic"

[[routes]]
prefix = "app"
upstream = "h:0"

[log]
level = "=="
format = "xml"
"#;
    vec![
        ("example-gateway.toml", example),
        ("minimal.toml", minimal.to_vec()),
        ("every-key.toml", everything.to_vec()),
        ("every-problem.toml", broken.to_vec()),
        (
            "unknown-key.toml",
            b"version = 1\n[kerberos]\nkeytab = \"k\"\nkeytabs = 1\n".to_vec(),
        ),
        // Once read to the end (see gateway's fuzz_config_toml_challenge_body_from_a_device).
        (
            "regression-body-file-dev-zero.toml",
            b"version = 1\n[challenge]\nbody_file = \"/dev/zero\"\n".to_vec(),
        ),
    ]
}

fn cookies() -> Vec<(&'static str, Vec<u8>)> {
    let ring = KeyRing::new(
        &[SessionKey::from_file_contents(SESSION_KEY_FILE).expect("key file")],
        "iwagw_session",
    );
    let other = KeyRing::new(
        &[
            SessionKey::from_file_contents(b"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=")
                .expect("key file"),
        ],
        "iwagw_session",
    );
    let session = |principal: &str, expires_at| Session {
        principal: principal.into(),
        issued_at: NOW - 60,
        expires_at,
        auth_time: NOW - 61,
        method: SignInMethod::Kerberos,
    };
    vec![
        (
            "alice.txt",
            ring.seal(&session("alice@CORP.TEST", NOW + 3600)).into(),
        ),
        (
            "long-principal.txt",
            ring.seal(&session(&format!("{}@CORP.TEST", "x".repeat(300)), NOW + 1))
                .into(),
        ),
        (
            "expired.txt",
            ring.seal(&session("bob@CORP.TEST", NOW)).into(),
        ),
        (
            "other-key.txt",
            other.seal(&session("alice@CORP.TEST", NOW + 3600)).into(),
        ),
        (
            "password-form.txt",
            ring.seal(&Session {
                method: SignInMethod::Password,
                ..session("carol@CORP.TEST", NOW + 600)
            })
            .into(),
        ),
        ("not-base64.txt", b"v2.%%%".to_vec()),
    ]
}

fn main() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = fuzz.parent().expect("fuzz/ is in the repository");
    let samba = repo.join("kdc-bridge/tests/vectors/samba");
    let corpus = Corpus {
        root: std::env::args_os()
            .nth(1)
            .map_or_else(|| fuzz.join("corpus"), PathBuf::from),
    };

    let tokens = tokens(&samba);
    for (name, bytes) in &tokens {
        corpus.put("acceptor", name, bytes);
        corpus.put("spnego_token", name, bytes);
    }
    for (name, bytes) in kerberos_messages(&samba, &tokens) {
        corpus.put("ap_req", &name, &bytes);
    }
    for (name, bytes) in keytabs(&samba) {
        corpus.put("keytab", name, &bytes);
    }
    for (name, bytes) in headers(&tokens) {
        corpus.put("negotiate_header", name, &bytes);
    }
    for (name, bytes) in configs(repo) {
        corpus.put("config_toml", name, &bytes);
    }
    for (name, bytes) in cookies() {
        corpus.put("session_cookie", name, &bytes);
    }
    // Inputs that once failed a target, kept as regression vectors: fuzz-<target>-<short>.bin.
    let vectors = repo.join("kdc-bridge/tests/vectors");
    for entry in std::fs::read_dir(&vectors).expect("vectors dir") {
        let path = entry.expect("vectors dir").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if let Some((target, _)) = name.strip_prefix("fuzz-").and_then(|n| n.split_once('-')) {
            let seed = format!("regression-{name}");
            corpus.put(target, &seed, &std::fs::read(&path).expect("vector"));
        }
    }
}
