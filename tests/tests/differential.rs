//! Differential testing of kdc-bridge's acceptor against MIT's (libgssapi `ServerCtx`, in the
//! `iwa-mit-accept` child process), on tokens fresh from the test Samba AD DC and on
//! systematically mutated copies of them.
//!
//! Both must agree on accept/refuse for every token, and on the client principal for every
//! accepted one. MIT runs in two configurations: no acceptor credential (its default: any key
//! in the keytab) and a credential for exactly the SPN we are configured with
//! (`--principal`). Where they differ on purpose, a named exception in
//! `differential/report.rs` says why (and every exception must still be needed); anything
//! else fails the test.
//!
//! Mutations (`differential/mutate.rs`, `differential/semantic.rs`): bit flips in every
//! region (all eight bits of every header octet, one bit of every ciphertext octet, or of a
//! sample for the large tokens), truncations, trailing and inner garbage, re-framing, edits of
//! the ticket's cleartext, and re-encrypted tickets and authenticators with one field changed
//! (the test holds the service keys, so it can reach the checks behind the integrity checks).
//! Replays and expired tickets have a test each.
//!
//! Needs the DC: `tests/ad/samba-ad.sh up`. Run with
//! `cargo test -p e2e --test differential -- --nocapture` to see the summary tables.

#[path = "differential/layout.rs"]
mod layout;
#[path = "differential/mutate.rs"]
mod mutate;
#[path = "differential/oracle.rs"]
mod oracle;
#[path = "differential/report.rs"]
mod report;
#[path = "differential/semantic.rs"]
mod semantic;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::{ad, decode_token, tokens, Ccache, Scratch};
use kdc_bridge::proto::acceptor::DEFAULT_SKEW_SECS;
use kdc_bridge::proto::error::AcceptError;

use layout::Layout;
use mutate::{Density, Mutant};
use oracle::{Mit, Oracle, Ours};
use report::{summarize, Case, EXCEPTIONS};
use semantic::Opened;

/// One acceptor configuration: a keytab, its SPN, our acceptor and MIT's two.
struct Service {
    keytab: PathBuf,
    ours: Ours,
    mit: Oracle,
    mit_named: Oracle,
}

impl Service {
    fn new(
        keytab: PathBuf,
        krb5_conf: &Path,
        skew: i64,
        rcache: Option<(PathBuf, PathBuf)>,
    ) -> Self {
        let ours = Ours::new(&keytab, skew);
        let (rc_default, rc_named) = rcache.unzip();
        let mit = Oracle {
            keytab: keytab.clone(),
            krb5_conf: krb5_conf.to_path_buf(),
            rcache_dir: rc_default,
            principal: None,
        };
        let mit_named = Oracle {
            principal: Some(
                ours.spns()
                    .first()
                    .expect("keytab has a principal")
                    .to_string(),
            ),
            rcache_dir: rc_named,
            ..mit.clone()
        };
        Self {
            ours,
            keytab,
            mit,
            mit_named,
        }
    }

    /// Runs every mutant through MIT (both configurations, in child processes) and ours
    /// (here, meanwhile). With `shared_replay`, ours keeps one replay cache for the whole
    /// sequence, like MIT with a file replay cache; otherwise each token gets a fresh one.
    fn run(
        &self,
        scratch: &Scratch,
        groups: Vec<(String, Vec<Mutant>)>,
        shared_replay: bool,
    ) -> Vec<Case> {
        let all: Vec<&[u8]> = groups
            .iter()
            .flat_map(|(_, ms)| ms.iter().map(|m| m.bytes.as_slice()))
            .collect();
        let mit = self.mit.spawn(scratch, &all);
        let mit_named = self.mit_named.spawn(scratch, &all);
        let replay = shared_replay.then(|| self.ours.replay_cache());
        let ours: Vec<_> = all
            .iter()
            .map(|t| self.ours.check(t, unix_now(), replay.as_ref()))
            .collect();
        let (mit, mit_named) = (mit.wait(), mit_named.wait());
        let mut verdicts = ours.into_iter().zip(mit).zip(mit_named);
        let mut cases = Vec::with_capacity(all.len());
        for (source, mutants) in groups {
            for mutant in mutants {
                let ((ours, mit), mit_named) = verdicts.next().expect("one verdict per token");
                cases.push(Case {
                    source: source.clone(),
                    mutant,
                    ours,
                    mit,
                    mit_named,
                });
            }
        }
        cases
    }
}

/// The current time, Unix seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// `count` fresh tokens for `service` (`HTTP@host`) from `iwa-negotiate tokens`, decoded.
fn token_bytes(ccache: &Ccache, service: &str, count: usize, raw: bool) -> Vec<Vec<u8>> {
    tokens(ccache, service, count, raw)
        .iter()
        .map(|t| decode_token(t))
        .collect()
}

fn original(token: &[u8]) -> Mutant {
    Mutant {
        class: "original".to_owned(),
        label: "as issued".to_owned(),
        region: None,
        bytes: token.to_vec(),
    }
}

/// Everything but the re-encrypted variants.
fn mutants(token: &[u8], density: Density) -> Vec<Mutant> {
    let layout = Layout::parse(token).expect("a token from MIT's client parses");
    let mut out = vec![original(token)];
    out.extend(mutate::bit_flips(&layout, token, density));
    out.extend(mutate::truncations(&layout, token));
    out.extend(mutate::garbage(&layout, token));
    out.extend(mutate::reframings(&layout, token));
    out
}

fn with_semantic(token: &[u8], keytab: &Path, density: Density) -> Vec<Mutant> {
    let opened = Opened::open(token, keytab);
    let mut out = mutants(token, density);
    out.extend(opened.resealed(unix_now()));
    out.extend(opened.cleartext());
    out
}

/// Prints the summary and fails on any unexplained disagreement; returns the exceptions used.
fn fail_on(title: &str, cases: &[Case]) -> BTreeSet<&'static str> {
    let summary = summarize(title, cases);
    eprintln!("{}", summary.table);
    for name in &summary.used {
        let e = EXCEPTIONS.iter().find(|e| e.name == *name).expect("listed");
        eprintln!("  exception {}: {}", e.name, e.why);
    }
    if !summary.failures.is_empty() {
        for f in summary.failures.iter().take(40) {
            eprintln!("DIFFER {f}");
        }
        let all = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "differential-failures-{}.txt",
            title.split(':').next().unwrap_or(title).replace(' ', "-")
        ));
        let _ = std::fs::write(&all, summary.failures.join("\n"));
        panic!(
            "{}: {} unexplained disagreement(s) between MIT and kdc-bridge (DIFFER lines above, \
             all of them in {})",
            title,
            summary.failures.len(),
            all.display()
        );
    }
    summary.used
}

fn assert_original(cases: &[Case], source: &str, client: Option<&str>) {
    let c = cases
        .iter()
        .find(|c| c.source == source && c.mutant.class == "original")
        .expect("original case present");
    match client {
        Some(p) => {
            let ours = c
                .ours
                .as_ref()
                .unwrap_or_else(|e| panic!("{source}: we refused ({e})"));
            assert_eq!(ours.client.to_string(), p, "{source}");
            assert_eq!(c.mit, Mit::Accept(p.to_owned()), "{source}");
        }
        None => assert!(
            c.ours.is_err() && c.mit.accepted().is_none(),
            "{source} must be refused"
        ),
    }
}

#[test]
fn ours_and_mit_agree_on_samba_tokens() {
    let started = Instant::now();
    let ad = ad();
    let scratch = Scratch::new("corpus");
    let conf = ad.path("KRB5_CONFIG");
    let rc4_session_conf = ad.krb5_config_with(
        &scratch,
        "krb5-rc4-session.conf",
        &["default_tgs_enctypes = rc4-hmac aes256-cts-hmac-sha1-96"],
    );
    let gw_spn = "HTTP@gw.corp.test";

    // Fresh tokens, one kinit per user, in parallel.
    let (alice, alice_raw, other, rc4, rc4_session, bob, carol, dave) = std::thread::scope(|s| {
        let alice = s.spawn(|| {
            let cc = ad.kinit("alice", &scratch.join("alice.ccache"));
            let one = |spn: &str, raw: bool| token_bytes(&cc, spn, 1, raw).remove(0);
            (
                one(gw_spn, false),
                one(gw_spn, true),
                one("HTTP@other.corp.test", false),
                one("HTTP@rc4.corp.test", false),
            )
        });
        let rc4_session = s.spawn(|| {
            let cc = ad
                .kinit_with("alice", &scratch.join("alice-rc4.ccache"))
                .krb5_config(&rc4_session_conf)
                .run();
            token_bytes(&cc, gw_spn, 1, false).remove(0)
        });
        let user = |u: &'static str| {
            let scratch = &scratch;
            s.spawn(move || {
                let cc = ad.kinit(u, &scratch.join(&format!("{u}.ccache")));
                token_bytes(&cc, gw_spn, 1, false).remove(0)
            })
        };
        let (bob, carol, dave) = (user("bob"), user("carol"), user("dave"));
        let (a, r, o, r4) = alice.join().expect("alice tokens");
        (
            a,
            r,
            o,
            r4,
            rc4_session.join().expect("rc4 session token"),
            bob.join().expect("bob token"),
            carol.join().expect("carol token"),
            dave.join().expect("dave token"),
        )
    });
    let got_tokens = started.elapsed();

    let gw = Service::new(ad.path("IWA_AD_GW_KEYTAB"), &conf, DEFAULT_SKEW_SECS, None);
    let rc4_svc = Service::new(ad.path("IWA_AD_RC4_KEYTAB"), &conf, DEFAULT_SKEW_SECS, None);
    let every = Density { cipher_stride: 1 };
    let gw_groups = vec![
        (
            "alice aes256 spnego".to_owned(),
            with_semantic(&alice, &gw.keytab, every),
        ),
        (
            "alice aes256 raw krb5".to_owned(),
            with_semantic(&alice_raw, &gw.keytab, every),
        ),
        (
            "alice aes256/rc4-session".to_owned(),
            with_semantic(&rc4_session, &gw.keytab, every),
        ),
        ("bob aes256 spnego".to_owned(), vec![original(&bob)]),
        (
            "carol 300 groups".to_owned(),
            mutants(&carol, Density { cipher_stride: 4 }),
        ),
        (
            "dave 1000 groups".to_owned(),
            mutants(&dave, Density { cipher_stride: 16 }),
        ),
        ("alice ticket for other (wrong SPN)".to_owned(), {
            let layout = Layout::parse(&other).expect("parses");
            let mut v = vec![original(&other)];
            v.extend(mutate::reframings(&layout, &other));
            v
        }),
        (
            "rc4 ticket to gw (wrong SPN)".to_owned(),
            vec![original(&rc4)],
        ),
    ];
    let rc4_groups = vec![(
        "alice rc4 ticket".to_owned(),
        with_semantic(&rc4, &rc4_svc.keytab, every),
    )];
    let built = started.elapsed();

    let mut cases = gw.run(&scratch, gw_groups, false);
    cases.extend(rc4_svc.run(&scratch, rc4_groups, false));

    assert_original(&cases, "alice aes256 spnego", Some("alice@CORP.TEST"));
    assert_original(&cases, "alice aes256 raw krb5", Some("alice@CORP.TEST"));
    assert_original(&cases, "alice aes256/rc4-session", Some("alice@CORP.TEST"));
    assert_original(&cases, "bob aes256 spnego", Some("bob@CORP.TEST"));
    assert_original(&cases, "carol 300 groups", Some("carol@CORP.TEST"));
    assert_original(&cases, "dave 1000 groups", Some("dave@CORP.TEST"));
    assert_original(&cases, "alice rc4 ticket", Some("alice@CORP.TEST"));
    assert_original(&cases, "alice ticket for other (wrong SPN)", None);
    assert_original(&cases, "rc4 ticket to gw (wrong SPN)", None);
    let wrong = cases
        .iter()
        .find(|c| c.source == "rc4 ticket to gw (wrong SPN)")
        .expect("case");
    assert!(
        matches!(wrong.ours, Err(AcceptError::WrongSpn { .. })),
        "{:?}",
        wrong.ours
    );
    let session = |source: &str| {
        cases
            .iter()
            .find(|c| c.source == source && c.mutant.class == "original")
            .and_then(|c| c.ours.as_ref().ok())
            .map(|a| (a.ticket_enctype.name(), a.session_enctype.name()))
    };
    assert_eq!(
        session("alice aes256/rc4-session"),
        Some(("aes256-cts-hmac-sha1-96", "rc4-hmac"))
    );
    assert!(
        carol.len() > 3_500 && dave.len() > 9_000,
        "the PACs carry the groups"
    );
    let rc4_case = cases
        .iter()
        .find(|c| c.source == "alice rc4 ticket" && c.mutant.class == "original")
        .expect("case");
    assert_eq!(
        rc4_case.ours.as_ref().map(|a| a.ticket_enctype.name()),
        Ok("rc4-hmac"),
        "svc-rc4 tickets are RC4"
    );

    eprintln!(
        "differential: {} tokens (from alice {} B, carol {} B, dave {} B); tokens from the \
         DC in {:.1?}, mutants built in {:.1?}, total {:.1?}",
        cases.len(),
        alice.len(),
        carol.len(),
        dave.len(),
        got_tokens,
        built - got_tokens,
        started.elapsed()
    );
    let used = fail_on("kdc-bridge vs MIT: Samba tokens and mutants", &cases);
    let unused: Vec<&str> = EXCEPTIONS
        .iter()
        .map(|e| e.name)
        .filter(|n| !used.contains(n))
        .collect();
    assert!(
        unused.is_empty(),
        "exceptions that explain nothing any more (remove them): {unused:?}"
    );
}

#[test]
fn replays_are_refused_by_both() {
    let ad = ad();
    let scratch = Scratch::new("replay");
    let conf = ad.path("KRB5_CONFIG");
    let rcache = (scratch.join("rcache-default"), scratch.join("rcache-named"));
    std::fs::create_dir_all(&rcache.0).expect("rcache dir");
    std::fs::create_dir_all(&rcache.1).expect("rcache dir");
    let gw = Service::new(
        ad.path("IWA_AD_GW_KEYTAB"),
        &conf,
        DEFAULT_SKEW_SECS,
        Some(rcache),
    );
    let cc = ad.kinit("alice", &scratch.join("alice.ccache"));
    let spnego = token_bytes(&cc, "HTTP@gw.corp.test", 2, false);
    let raw = token_bytes(&cc, "HTTP@gw.corp.test", 1, true).remove(0);

    let first = &spnego[0];
    let layout = Layout::parse(first).expect("parses");
    let reframed = mutate::reframings(&layout, first);
    let pick = |ms: &[Mutant], label: &str| -> Vec<u8> {
        ms.iter()
            .find(|m| m.label == label)
            .unwrap_or_else(|| panic!("no mutant {label}"))
            .bytes
            .clone()
    };
    let cleartext = Opened::open(first, &gw.keytab).cleartext();
    let step = |label: &str, bytes: Vec<u8>| Mutant {
        class: "replay sequence".to_owned(),
        label: label.to_owned(),
        region: None,
        bytes,
    };
    let sequence = vec![
        step("1 first use", first.clone()),
        step("2 the same token again", first.clone()),
        step(
            "3 same AP-REQ, raw framing",
            pick(&reframed, "raw krb5 token"),
        ),
        step(
            "4 same AP-REQ, mech list [ms-krb5, krb5]",
            pick(&reframed, "SPNEGO [ms-krb5, krb5] as Windows sends"),
        ),
        step(
            "5 same AP-REQ, sname host in upper case",
            pick(&cleartext, "sname host in upper case"),
        ),
        step(
            "6 same AP-REQ, realm in lower case",
            pick(&cleartext, "realm in lower case"),
        ),
        step(
            "7 same AP-REQ, sname name-type 1",
            pick(&cleartext, "sname name-type 1"),
        ),
        step("8 another token", spnego[1].clone()),
        step("9 a raw token", raw.clone()),
        step("10 the raw token again", raw),
    ];
    let cases = gw.run(&scratch, vec![("alice replay".to_owned(), sequence)], true);
    fail_on("replay: one replay cache per acceptor", &cases);
    for c in &cases {
        let first_use = ["1 ", "8 ", "9 "]
            .iter()
            .any(|p| c.mutant.label.starts_with(p));
        if first_use {
            assert!(c.ours.is_ok(), "{}: {:?}", c.mutant.label, c.ours);
            assert!(
                c.mit.accepted().is_some(),
                "{}: MIT {}",
                c.mutant.label,
                c.mit
            );
        } else {
            // Every second use of an authenticator, however it is re-wrapped.
            assert_eq!(
                c.ours.as_ref().map(|a| a.client.to_string()),
                Err(&AcceptError::Replay),
                "{}",
                c.mutant.label
            );
            assert!(
                c.mit.accepted().is_none(),
                "{}: MIT {}",
                c.mutant.label,
                c.mit
            );
        }
    }
}

#[test]
fn expired_tickets_are_refused_by_both() {
    const SKEW: i64 = 5;
    let ad = ad();
    let scratch = Scratch::new("expired");
    // MIT reads the skew from [libdefaults] clockskew; ours from AcceptorConfig.
    let conf = ad.krb5_config_with(&scratch, "krb5-skew5.conf", &["clockskew = 5"]);
    let gw = Service::new(ad.path("IWA_AD_GW_KEYTAB"), &conf, SKEW, None);
    // Samba's KDC refuses a TGS-REQ whose TGT has two minutes or less left, so a short ticket
    // comes straight from the AS (kinit -S), with a 4 s lifetime.
    let cc = ad
        .kinit_with("alice", &scratch.join("alice-short.ccache"))
        .krb5_config(&conf)
        .lifetime("4s")
        .service("HTTP/gw.corp.test@CORP.TEST")
        .run();
    let spnego = token_bytes(&cc, "HTTP@gw.corp.test", 1, false).remove(0);
    let raw = token_bytes(&cc, "HTTP@gw.corp.test", 1, true).remove(0);
    let group = |class: &str| {
        let m = |label: &str, bytes: &[u8]| Mutant {
            class: class.to_owned(),
            label: label.to_owned(),
            region: None,
            bytes: bytes.to_vec(),
        };
        vec![m("spnego", &spnego), m("raw krb5", &raw)]
    };
    let before = gw.run(
        &scratch,
        vec![(
            "alice 4 s ticket, skew 5 s".to_owned(),
            group("before expiry"),
        )],
        false,
    );
    let end_time = before
        .iter()
        .map(|c| {
            c.ours
                .as_ref()
                .map(|a| a.end_time)
                .expect("accepted before expiry")
        })
        .max()
        .expect("two cases");
    for c in &before {
        assert!(
            c.mit.accepted().is_some(),
            "MIT refused before expiry: {}",
            c.mit
        );
    }
    let wait = end_time + SKEW + 1 - unix_now();
    eprintln!("expired: ticket ends at {end_time}; waiting {wait} s for end + skew");
    if wait > 0 {
        std::thread::sleep(Duration::from_secs(wait.unsigned_abs()));
    }
    let after = gw.run(
        &scratch,
        vec![(
            "alice 4 s ticket, skew 5 s".to_owned(),
            group("after end + skew"),
        )],
        false,
    );
    let mut cases = before;
    cases.extend(after);
    fail_on("expired tickets", &cases);
    for c in cases
        .iter()
        .filter(|c| c.mutant.class == "after end + skew")
    {
        // Both name the ticket's end, not the authenticator's age (which is past the skew
        // too): MIT checks the ticket times first and so do we.
        assert!(
            matches!(c.ours, Err(AcceptError::TicketExpired { endtime, .. }) if endtime == end_time),
            "{}: {:?}",
            c.mutant.label,
            c.ours
        );
        assert!(
            matches!(&c.mit, Mit::Reject(m) if m.contains("Ticket expired")),
            "{}: MIT {}",
            c.mutant.label,
            c.mit
        );
    }
}
