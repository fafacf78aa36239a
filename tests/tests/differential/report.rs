//! Comparing our verdicts with MIT's, the named exceptions, and the summary table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kdc_bridge::proto::acceptor::Accepted;
use kdc_bridge::proto::error::AcceptError;
use kdc_bridge::proto::spnego::oid;

use super::layout::{ap_req_integer, krb5_token_oid, spnego_framing_is_der, ticket_kvno, Region};
use super::mutate::Mutant;
use super::oracle::Mit;

/// Which MIT configuration a verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OracleKind {
    /// `Cred::acquire(None, …)`: MIT's default acceptor, any principal in the keytab.
    Default,
    /// `--principal HTTP/host@REALM`: MIT configured with the SPN we are configured with.
    Named,
}

/// One token and both verdicts.
#[derive(Debug)]
pub struct Case {
    /// The token type (a row group of the summary).
    pub source: String,
    pub mutant: Mutant,
    pub ours: Result<Accepted, AcceptError>,
    pub mit: Mit,
    pub mit_named: Mit,
}

/// A documented, deliberate difference between MIT and us. Each one names the exact
/// circumstance; anything else that differs fails the test.
#[derive(Debug)]
pub struct Exception {
    pub name: &'static str,
    /// Why the difference is deliberate; printed with the summary.
    pub why: &'static str,
    applies: fn(&Case, OracleKind, &Mit) -> bool,
}

fn ours_err(case: &Case) -> Option<&AcceptError> {
    case.ours.as_ref().err()
}

fn mit_accepts(mit: &Mit) -> bool {
    matches!(mit, Mit::Accept(_))
}

fn touches_cleartext_service(c: &Case) -> bool {
    matches!(
        c.mutant.region,
        Some(Region::TicketRealm | Region::TicketSname)
    ) || (c.mutant.class == "cleartext"
        && (c.mutant.label.starts_with("sname") || c.mutant.label.starts_with("realm")))
}

fn touches_kvno(c: &Case) -> bool {
    c.mutant.region == Some(Region::TicketEncHeader)
        || (c.mutant.class == "cleartext" && c.mutant.label.contains("kvno"))
}

pub static EXCEPTIONS: &[Exception] = &[
    Exception {
        name: "pac-failure-refuses",
        why: "A PAC that fails its checks refuses the ticket here (AcceptError::BadPac); MIT's \
              mspac_verify (src/lib/krb5/krb/pac.c) only leaves such a PAC unverified and \
              accepts. These mutants change the client name in a re-sealed ticket, so \
              PAC_CLIENT_INFO (which the KDC wrote for the original client) no longer matches: \
              a gateway that hands the PAC's groups to applications must not accept that.",
        applies: |c, _, mit| {
            mit_accepts(mit) && matches!(ours_err(c), Some(AcceptError::BadPac(_)))
        },
    },
    Exception {
        name: "spn-allowlist",
        why: "MIT (since 1.10, rd_req_dec.c decrypt_ticket) never compares the ticket's \
              unauthenticated sname and realm with the acceptor name: it tries the keytab keys \
              and lets decryption decide, 'in case the ticket server is an alias'. We require \
              sname@realm to be a configured SPN (AcceptorConfig.spns, ASCII case ignored, \
              KerberosString as UTF-8), so an SPN alias on the same account is refused unless \
              configured.",
        applies: |c, _, mit| {
            mit_accepts(mit)
                && touches_cleartext_service(c)
                && matches!(
                    ours_err(c),
                    Some(
                        AcceptError::WrongSpn { .. }
                            | AcceptError::WrongRealm { .. }
                            | AcceptError::Malformed { what: "AP-REQ" }
                    )
                )
        },
    },
    Exception {
        name: "mit-default-ignores-kvno",
        why: "Without an acceptor name MIT tries every keytab key of the ticket's enctype, \
              whatever kvno the ticket names; we use the key of the named kvno, as MIT does \
              when given our SPN (--principal), which refuses these tokens too.",
        applies: |c, kind, mit| {
            kind == OracleKind::Default
                && mit_accepts(mit)
                && !mit_accepts(&c.mit_named)
                && touches_kvno(c)
                && c.ours.is_err()
        },
    },
    Exception {
        name: "kvno-0-is-not-a-wildcard",
        why: "MIT looks the key up with krb5_kt_get_entry, where kvno 0 means 'the newest'; \
              for us a kvno in the ticket is the key version (RFC 4120 §5.2.9), only an \
              absent kvno means the newest key.",
        applies: |c, _, mit| {
            mit_accepts(mit)
                && matches!(ours_err(c), Some(AcceptError::NoKey { .. }))
                && ticket_kvno(&c.mutant.bytes) == Some(0)
        },
    },
    Exception {
        name: "spnego-strict-der",
        why: "MIT's SPNEGO decoder (spnego_mech.c) reads each field by its own length and \
              ignores inconsistent enclosing lengths; we parse the NegTokenInit as DER and \
              refuse it. Checked independently: the SPNEGO framing of these tokens is not DER.",
        applies: |c, _, mit| {
            mit_accepts(mit)
                && matches!(ours_err(c), Some(AcceptError::Malformed { what }) if what.starts_with("SPNEGO"))
                && !spnego_framing_is_der(&c.mutant.bytes)
        },
    },
    Exception {
        name: "ap-req-msg-type",
        why: "RFC 4120 §3.2.3: a message whose msg-type is not KRB_AP_REQ (14) is refused \
              (KRB_AP_ERR_MSG_TYPE); MIT 1.20's decoder does not check the AP-REQ msg-type.",
        applies: |c, _, mit| {
            mit_accepts(mit)
                && matches!(ours_err(c), Some(AcceptError::Malformed { what: "AP-REQ" }))
                && ap_req_integer(&c.mutant.bytes, 1).is_some_and(|t| t != 14)
        },
    },
    Exception {
        name: "trailing-data-refused",
        why: "Our parsers reject data after the last field (STYLE.md: a cursor that rejects \
              trailing data); MIT's decoder skips unknown trailing SEQUENCE fields and ignores \
              octets after the AP-REQ inside the Kerberos token.",
        applies: |c, _, mit| {
            mit_accepts(mit)
                && c.mutant.class == "inner garbage"
                && !c.mutant.label.contains("mechListMIC")
                && matches!(ours_err(c), Some(AcceptError::Malformed { .. }))
        },
    },
    Exception {
        name: "mech-list-mic-ignored",
        why: "No initiator can compute a mechListMIC before the context exists (RFC 4178 §5), \
              so we ignore one in the first NegTokenInit (kdc-bridge spnego.rs); MIT verifies \
              it with the new context and fails on a bogus one.",
        applies: |c, _, mit| {
            c.ours.is_ok()
                && !mit_accepts(mit)
                && c.mutant.class == "inner garbage"
                && c.mutant.label.contains("mechListMIC")
        },
    },
    Exception {
        name: "microseconds-range",
        why: "RFC 4120 §5.2.4: Microseconds ::= INTEGER (0..999999); we refuse cusec 1000000 \
              as malformed, MIT's decoder does not range-check it.",
        applies: |c, _, mit| {
            mit_accepts(mit)
                && c.mutant.label.starts_with("cusec")
                && matches!(
                    ours_err(c),
                    Some(AcceptError::Malformed {
                        what: "Authenticator"
                    })
                )
        },
    },
    Exception {
        name: "ms-krb5-oid-token",
        why: "We accept a Kerberos token framed with Microsoft's OID 1.2.840.48018.1.2.2, an \
              alias of the Kerberos mechanism (MS-KILE); MIT's krb5 mechanism knows it too \
              (gss_mech_krb5_wrong in accept_sec_context.c), but the mechglue finds no \
              credential for that OID and returns GSS_S_NO_CRED.",
        applies: |c, _, mit| {
            c.ours.is_ok()
                && matches!(mit, Mit::Reject(m) if m.starts_with("0x70000 "))
                && krb5_token_oid(&c.mutant.bytes).as_deref() == Some(oid::MS_KRB5)
        },
    },
    Exception {
        name: "channel-bindings-without-tls",
        why: "A client that sends channel bindings to a listener without TLS is refused \
              (kdc-bridge gss.rs ChannelBindingPolicy::Enforce); MIT ignores the initiator's \
              bindings when the acceptor passes GSS_C_NO_CHANNEL_BINDINGS (process_checksum).",
        applies: |c, _, mit| {
            matches!(ours_err(c), Some(AcceptError::ChannelBindingMismatch)) && mit_accepts(mit)
        },
    },
    Exception {
        name: "gss-checksum-required",
        why: "RFC 4121 §4.1.1: the authenticator MUST carry the 0x8003 checksum. MIT also accepts \
              none (MS-KILE, handcrafted SMB clients) or a keyed checksum over empty data \
              (Samba's SMB client); browsers always send 0x8003.",
        applies: |c, _, mit| {
            matches!(
                ours_err(c),
                Some(AcceptError::BadChecksum {
                    what: "authenticator has no checksum" | "checksum type is not 0x8003"
                })
            ) && mit_accepts(mit)
        },
    },
    Exception {
        name: "user-to-user-refused",
        why: "RFC 4120 §3.2.3: use-session-key means the ticket is encrypted in the session key \
              of the server's TGT, which we never have, so we refuse it; MIT ignores the \
              unauthenticated option unless the application set up user-to-user.",
        applies: |c, _, mit| {
            matches!(
                ours_err(c),
                Some(AcceptError::UnsupportedOption {
                    what: "user-to-user (use-session-key)"
                })
            ) && mit_accepts(mit)
        },
    },
    Exception {
        name: "delegated-credential-not-decoded",
        why: "We never keep a delegated TGT, so the Deleg field is only bounds-checked; MIT \
              decodes and decrypts the KRB-CRED (rd_and_store_for_creds) and fails on garbage.",
        applies: |c, _, mit| {
            c.ours.as_ref().is_ok_and(|a| a.delegated) && matches!(mit, Mit::Reject(_))
        },
    },
];

/// How one verdict pair compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    BothAccept,
    BothRefuse,
    Explained(&'static str),
    Disagree,
}

pub fn judge(case: &Case, kind: OracleKind) -> Judgement {
    let mit = match kind {
        OracleKind::Default => &case.mit,
        OracleKind::Named => &case.mit_named,
    };
    match (&case.ours, mit.accepted()) {
        (Ok(a), Some(p)) if a.client.to_string() == p => return Judgement::BothAccept,
        (Err(_), None) => return Judgement::BothRefuse,
        _ => {}
    }
    EXCEPTIONS
        .iter()
        .find(|e| (e.applies)(case, kind, mit))
        .map_or(Judgement::Disagree, |e| Judgement::Explained(e.name))
}

pub fn describe_ours(r: &Result<Accepted, AcceptError>) -> String {
    match r {
        Ok(a) => format!("accept {}", a.client),
        Err(e) => format!("refuse {} ({e})", e.reason()),
    }
}

/// The MIT error text without the generic major-status sentence.
pub fn mit_reason(m: &Mit) -> String {
    match m {
        Mit::Accept(_) => "accept".to_owned(),
        Mit::Continue => "continue".to_owned(),
        Mit::Reject(msg) => msg
            .rsplit_once('(')
            .map_or(msg.as_str(), |(_, r)| r.trim_end_matches(')'))
            .to_owned(),
    }
}

#[derive(Debug, Default)]
struct Row {
    cases: usize,
    both_accept: usize,
    both_refuse: usize,
    mit_continue: usize,
    explained: BTreeMap<String, usize>,
    disagree: usize,
}

/// The summary of one run.
#[derive(Debug)]
pub struct Summary {
    /// The table, for stderr.
    pub table: String,
    /// One line per unexplained disagreement.
    pub failures: Vec<String>,
    /// The exceptions that explained at least one case.
    pub used: std::collections::BTreeSet<&'static str>,
}

/// Renders the summary table and returns it with the unexplained disagreements.
pub fn summarize(title: &str, cases: &[Case]) -> Summary {
    let mut used = std::collections::BTreeSet::new();
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut reasons: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in cases {
        let row = rows
            .entry((c.source.clone(), c.mutant.class.clone()))
            .or_default();
        row.cases += 1;
        if c.mit == Mit::Continue {
            row.mit_continue += 1;
        }
        let default = judge(c, OracleKind::Default);
        let named = judge(c, OracleKind::Named);
        match default {
            Judgement::BothAccept => row.both_accept += 1,
            Judgement::BothRefuse => {
                row.both_refuse += 1;
                if let Err(e) = &c.ours {
                    *reasons
                        .entry((e.reason().to_owned(), mit_reason(&c.mit)))
                        .or_default() += 1;
                }
            }
            Judgement::Explained(n) => {
                used.insert(n);
                *row.explained.entry(n.to_owned()).or_default() += 1;
            }
            Judgement::Disagree => row.disagree += 1,
        }
        // The named oracle's own exceptions are listed apart; the columns follow MIT default.
        if let Judgement::Explained(n) = named {
            used.insert(n);
            *row.explained
                .entry(format!("{n} [--principal]"))
                .or_default() += 1;
        }
        if named == Judgement::Disagree && default != Judgement::Disagree {
            row.disagree += 1;
        }
        for (kind, j) in [("MIT default", default), ("MIT --principal", named)] {
            if j == Judgement::Disagree {
                failures.push(format!(
                    "{} / {} / {}: ours {} but {kind} {}",
                    c.source,
                    c.mutant.class,
                    c.mutant.label,
                    describe_ours(&c.ours),
                    if kind == "MIT default" {
                        &c.mit
                    } else {
                        &c.mit_named
                    }
                ));
            }
        }
    }
    let mut s = String::new();
    let _ = writeln!(s, "\n== {title} ==");
    let _ = writeln!(
        s,
        "{:<34} {:<26} {:>6} {:>7} {:>7} {:>5} {:>6}  explained by a named exception",
        "token", "mutation", "cases", "accept", "refuse", "cont.", "DIFFER"
    );
    let mut total = Row::default();
    for ((source, class), r) in &rows {
        let explained: Vec<String> = r
            .explained
            .iter()
            .map(|(n, k)| format!("{n}: {k}"))
            .collect();
        let _ = writeln!(
            s,
            "{source:<34} {class:<26} {:>6} {:>7} {:>7} {:>5} {:>6}  {}",
            r.cases,
            r.both_accept,
            r.both_refuse,
            r.mit_continue,
            r.disagree,
            explained.join(", ")
        );
        total.cases += r.cases;
        total.both_accept += r.both_accept;
        total.both_refuse += r.both_refuse;
        total.mit_continue += r.mit_continue;
        total.disagree += r.disagree;
        for (n, k) in &r.explained {
            *total.explained.entry(n.clone()).or_default() += k;
        }
    }
    let explained: Vec<String> = total
        .explained
        .iter()
        .map(|(n, k)| format!("{n}: {k}"))
        .collect();
    let _ = writeln!(
        s,
        "{:<34} {:<26} {:>6} {:>7} {:>7} {:>5} {:>6}  {}",
        "TOTAL",
        "",
        total.cases,
        total.both_accept,
        total.both_refuse,
        total.mit_continue,
        total.disagree,
        explained.join(", ")
    );
    let _ = writeln!(s, "\nreasons when both refuse (ours -> MIT), count:");
    for ((ours, mit), n) in &reasons {
        let _ = writeln!(s, "  {ours:<24} {mit:<60} {n}");
    }
    Summary {
        table: s,
        failures,
        used,
    }
}
