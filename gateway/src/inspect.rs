//! `iwa-gateway token inspect`: what a Negotiate token holds and the verdict the gateway would
//! give, with the fix, for an admin who copied the header from a browser or a capture.
//!
//! The verdict comes from the acceptor itself ([`Acceptor::accept_traced`]), so it is exactly
//! the gateway's; only the replay cache is left out (a token is judged the same however often
//! it is inspected) and channel bindings are reported, not checked (the TLS connection is gone).

use std::fmt::Write as _;

use kdc_bridge::proto::acceptor::{
    AcceptRequest, Acceptor, AcceptorConfig, PacPolicy, PacTrace, Randomness, Trace,
};
use kdc_bridge::proto::crypto::Enctype;
use kdc_bridge::proto::error::AcceptError;
use kdc_bridge::proto::gss::ChannelBindingPolicy;
use kdc_bridge::proto::keys::ServiceKeys;
pub use kdc_bridge::proto::krb::asn1::format_rfc3339;
use kdc_bridge::proto::krb::asn1::parse_time;
use kdc_bridge::proto::pac::PacError;
use kdc_bridge::proto::principal::Principal;
use kdc_bridge::proto::replay::NoReplayCheck;
use kdc_bridge::proto::spnego::{Framing, KrbOid};

use crate::negotiate;

/// What to verify against.
#[derive(Debug)]
pub struct Inspection<'a> {
    /// The service keys (from `--keytab`).
    pub keys: &'a ServiceKeys,
    /// Accepted SPNs (`--spn`); empty: any principal of the keytab.
    pub spns: Vec<Principal>,
    /// The time to verify as of (Unix seconds): now, or `--at` for a capture.
    pub at: i64,
    /// Allowed clock skew (seconds).
    pub max_skew_secs: i64,
}

/// The outcome: facts found and the verdict.
#[derive(Debug)]
pub struct Report {
    /// What the acceptor learned before deciding.
    pub trace: Trace,
    /// The client, when the token was accepted.
    pub accepted_client: Option<Principal>,
    /// The refusal, if any.
    pub error: Option<AcceptError>,
    /// The time it was verified as of.
    pub at: i64,
}

/// Takes the token out of what an admin pasted: a whole `Authorization: Negotiate …` header
/// line, a `Negotiate …` value, or bare base64 (line breaks and spaces are ignored).
pub fn extract_pasted_token(input: &str) -> Result<Vec<u8>, String> {
    let text = input.trim();
    let value = match text.split_once(':') {
        Some((name, rest)) if name.trim().eq_ignore_ascii_case("authorization") => rest.trim(),
        _ => text,
    };
    let compact: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let header = if compact
        .get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("negotiate"))
    {
        // "Negotiate <b64>" possibly broken over lines: rejoin the base64 part.
        let b64: String = compact
            .get(9..)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        format!("Negotiate {b64}")
    } else if compact
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("ntlm "))
    {
        return Err(
            "this is an `Authorization: NTLM` header: the browser chose NTLM, not Negotiate; \
            the site is not in its Local intranet zone / AuthServerAllowlist"
                .into(),
        );
    } else {
        format!("Negotiate {}", compact.replace(' ', ""))
    };
    negotiate::extract_token(header.as_bytes(), usize::MAX).map_err(|e| format!("{e}"))
}

/// Parses `--at`: RFC 3339 (`2026-11-21T11:16:02Z`, `…+09:00`, fractions ignored) or `@<unix>`.
pub fn parse_at(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a time like 2026-11-21T11:16:02Z or @1795259762");
    if let Some(unix) = s.strip_prefix('@') {
        return unix.parse().map_err(|_| bad());
    }
    let b = s.as_bytes();
    if b.len() < 20
        || b.get(4) != Some(&b'-')
        || b.get(10).is_none_or(|c| !matches!(c, b'T' | b't' | b' '))
    {
        return Err(bad());
    }
    let (date, time) = (s.get(..10).ok_or_else(bad)?, s.get(11..19).ok_or_else(bad)?);
    let compact = format!("{}{}Z", date.replace('-', ""), time.replace(':', ""));
    let base = parse_time(compact.as_bytes()).map_err(|_| bad())?;
    // Skip fractional seconds, then read the zone.
    let mut rest = s.get(19..).ok_or_else(bad)?;
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        zone if zone.len() == 6 => {
            let sign = match zone.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(bad()),
            };
            let two = |r: std::ops::Range<usize>| {
                zone.get(r)
                    .filter(|d| d.bytes().all(|c| c.is_ascii_digit()))
                    .and_then(|d| d.parse::<i64>().ok())
            };
            let (h, m) = (two(1..3).ok_or_else(bad)?, two(4..6).ok_or_else(bad)?);
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(bad()),
    };
    Ok(base - offset)
}

struct NoRandomness;

impl Randomness for NoRandomness {
    fn fill(&mut self, buf: &mut [u8]) {
        // The AP-REP built on success is thrown away: its confounder and subkey need not be
        // secret here.
        buf.fill(0x5a);
    }
}

/// Verifies `token` as the gateway would.
pub fn inspect(token: &[u8], how: &Inspection<'_>) -> Report {
    let acceptor = Acceptor::new(AcceptorConfig {
        spns: how.spns.clone(),
        max_skew_secs: how.max_skew_secs,
        channel_bindings: ChannelBindingPolicy::Ignore,
        pac: PacPolicy::VerifyIfPresent,
    });
    let mut trace = Trace::default();
    let req = AcceptRequest {
        token,
        now: how.at,
        channel_binding: None,
    };
    let result = acceptor.accept_traced(
        how.keys,
        &NoReplayCheck,
        &mut NoRandomness,
        &req,
        &mut trace,
    );
    let (accepted_client, error) = match result {
        Ok(ok) => (Some(ok.client), None),
        Err(e) => (None, Some(e)),
    };
    Report {
        trace,
        accepted_client,
        error,
        at: how.at,
    }
}

fn etype_name(etype: i32) -> String {
    Enctype::try_from(etype).map_or_else(
        |_| format!("enctype {etype} (not supported)"),
        |e| e.name().to_owned(),
    )
}

/// The mechanism line.
fn mechanism(report: &Report) -> &'static str {
    match (&report.trace.framing, &report.error) {
        (
            Some(Framing::Spnego {
                first_mech: KrbOid::Microsoft,
            }),
            _,
        ) => "SPNEGO, Kerberos (Microsoft OID first, as Windows sends)",
        (
            Some(Framing::Spnego {
                first_mech: KrbOid::Standard,
            }),
            _,
        ) => "SPNEGO, Kerberos",
        (Some(Framing::Raw), _) => "raw Kerberos (RFC 4121, no SPNEGO)",
        (None, Some(AcceptError::Ntlm)) => "NTLM",
        (None, Some(AcceptError::NegoEx)) => "NegoEx",
        (None, Some(AcceptError::UnsupportedMech { .. })) => "another GSS mechanism",
        (None, _) => "unknown (the token does not parse)",
    }
}

/// The concrete fix for a refusal, using what the trace found.
pub fn advice(e: &AcceptError, trace: &Trace) -> String {
    let spn = trace
        .service
        .as_ref()
        .map_or_else(|| "the SPN".to_owned(), Principal::to_string);
    match e {
        AcceptError::Malformed { .. } => {
            "the token does not parse: copy the whole header value (it is often cut at a line \
             break), and check it is a Negotiate token"
                .into()
        }
        AcceptError::Ntlm | AcceptError::NegoEx | AcceptError::NoMechToken => {
            "the browser has no Kerberos ticket for this site: check that the SPN HTTP/<host> is \
             registered on the service account (setspn -Q HTTP/<host>), that users reach the \
             gateway by that name (not an IP address or a CNAME to another name), that the site is \
             in the Local intranet zone / AuthServerAllowlist, and that the PC is domain-joined"
                .into()
        }
        AcceptError::UnsupportedMech { oid } => {
            format!("the client offers GSS mechanism {oid}, not Kerberos: check the client software")
        }
        AcceptError::WrongRealm { expected, got } => format!(
            "the ticket is for realm {got}, the gateway serves {expected}: add the SPN of realm \
             {got} (and its key) or fix the client's host-to-realm mapping"
        ),
        AcceptError::WrongSpn { expected, got } => format!(
            "the browser asked the KDC for a ticket for {got}, which is not configured ({expected}): \
             add it to kerberos.spns and to the keytab, or make users use the configured host name"
        ),
        AcceptError::NoKey { detail } => match (trace.ticket_kvno, trace.ticket_etype) {
            (Some(kvno), Some(etype)) => format!(
                "ticket kvno {kvno} ({}) but {detail}: the service account's password or \
                 encryption types changed after the keytab was exported; export a new keytab for {spn}",
                etype_name(etype)
            ),
            _ => format!("{detail}: export a keytab with this key for {spn}"),
        },
        AcceptError::TicketDecryptFailed { kvno, .. } => format!(
            "the keytab holds kvno {kvno} for {spn}, but not the key the KDC used: it was exported \
             with a wrong password or before a password reset that kept the kvno; export it again"
        ),
        AcceptError::AuthenticatorDecryptFailed | AcceptError::ClientMismatch { .. } => {
            "the ticket is good but the rest of the token is not: a corrupted or forged token".into()
        }
        AcceptError::UnsupportedEnctype { etype } => format!(
            "{} is not supported: allow AES on the service account (msDS-SupportedEncryptionTypes \
             = 24) and export a new keytab",
            etype_name(*etype)
        ),
        AcceptError::TicketExpired { .. } | AcceptError::TicketNotYetValid { .. } => {
            "the ticket is outside its validity at the verification time: for a capture, pass \
             --at with the time it was captured; otherwise fix the clock of this machine or the \
             KDC (NTP), or purge the client's tickets (klist purge)"
                .into()
        }
        AcceptError::ClockSkew { ctime, now, .. } => format!(
            "the client's clock and the verification time differ by {} s: for a capture, pass \
             --at {}; otherwise synchronise the clocks with the domain controllers (NTP / w32tm)",
            (ctime - now).abs(),
            format_rfc3339(*ctime)
        ),
        AcceptError::TicketInvalid => "a postdated ticket that the KDC never validated".into(),
        AcceptError::BadChecksum { .. } => {
            "the client did not build a GSS-API Kerberos token (or built it wrongly): use a \
             browser or a GSSAPI/SSPI client"
                .into()
        }
        AcceptError::ChannelBindingMismatch => {
            "bound to another TLS certificate: if TLS ends on a load balancer in front of the \
             gateway, set kerberos.channel_bindings = \"ignore\""
                .into()
        }
        AcceptError::UnsupportedOption { what } => {
            format!("{what} is not used over HTTP: check the client software")
        }
        AcceptError::Replay | AcceptError::ReplayCacheUnavailable { .. } => {
            "the same token was used before: every request needs a fresh token".into()
        }
        AcceptError::BadPac(e) => pac_advice(e),
        _ => "see docs/troubleshooting.md".into(),
    }
}

fn pac_advice(e: &PacError) -> String {
    match e {
        PacError::NoPac => "the KDC put no PAC in the ticket: AD leaves it out when the service \
             account has NO_AUTH_DATA_REQUIRED (userAccountControl 0x2000000); clear that flag \
             on the account, or set kerberos.pac = \"verify-if-present\""
            .into(),
        PacError::BadServerChecksum => "the PAC's server signature does not match the keytab \
             key: the PAC was changed after the KDC signed it (a forged or tampered ticket), or a \
             KDC copied it from another ticket without signing it again; ask the client to sign \
             in again and check which KDC issued the ticket"
            .into(),
        PacError::ClientNameMismatch { .. } | PacError::AuthTimeMismatch { .. } => "the PAC \
             belongs to another ticket than the one it is in (a tampered ticket, or a KDC bug): \
             the ticket cannot be trusted"
            .into(),
        PacError::UnsupportedChecksum { .. } => "the PAC is signed with a checksum type the \
             gateway does not accept for this key; check the enctypes of the service account \
             (msDS-SupportedEncryptionTypes) and the keytab"
            .into(),
        _ => "the PAC does not parse: a KDC that writes non-standard PACs, or a damaged token; \
             set kerberos.pac = \"ignore\" only if the KDC is known to write broken PACs"
            .into(),
    }
}

/// The PAC as lines of the report.
fn pac_lines(pac: &PacTrace, line: &mut dyn FnMut(&str, String)) {
    let id = match pac {
        PacTrace::Absent => return line("PAC", "none in the ticket".into()),
        PacTrace::Undecodable(e) => return line("PAC", format!("does not parse: {e}")),
        PacTrace::Decoded(id) => id,
    };
    line(
        "PAC account",
        format!("{}\\{}", id.logon_domain_name, id.account_name),
    );
    if let Some(upn) = &id.upn {
        line("PAC UPN", upn.clone());
    }
    line("PAC user SID", id.user_sid.to_string());
    const SHOWN: usize = 8;
    let mut groups: Vec<String> = id
        .group_sids
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect();
    if id.group_sids.len() > SHOWN {
        groups.push(format!(
            "… {} more (--json lists all)",
            id.group_sids.len() - SHOWN
        ));
    }
    line(
        "PAC groups",
        format!("{}: {}", id.group_sids.len(), groups.join(", ")),
    );
}

/// The PAC as JSON.
fn pac_json(pac: Option<&PacTrace>) -> serde_json::Value {
    match pac {
        None => serde_json::Value::Null,
        Some(PacTrace::Absent) => serde_json::json!({ "present": false }),
        Some(PacTrace::Undecodable(e)) => serde_json::json!({
            "present": true, "error": e.to_string(), "reason": e.reason(),
        }),
        Some(PacTrace::Decoded(id)) => serde_json::json!({
            "present": true,
            "account": id.account_name,
            "logon_domain": id.logon_domain_name,
            "upn": id.upn,
            "dns_domain": id.dns_domain,
            "user_sid": id.user_sid.to_string(),
            "group_count": id.group_sids.len(),
            "group_sids": id.group_sids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    }
}

/// The report as lines of text.
pub fn render_text(r: &Report) -> String {
    let t = &r.trace;
    let mut out = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<22} {v}");
    };
    line("mechanism", mechanism(r).to_owned());
    if let Some(s) = &t.service {
        line("service (SPN)", s.to_string());
        line("realm", s.realm().to_owned());
    }
    if let Some(e) = t.ticket_etype {
        line("ticket enctype", etype_name(e));
    }
    if t.service.is_some() {
        line(
            "ticket kvno",
            t.ticket_kvno
                .map_or_else(|| "(none in the ticket)".into(), |k| k.to_string()),
        );
    }
    if let Some(k) = t.key_kvno {
        line("keytab key used", format!("kvno {k}"));
    }
    if let Some(c) = &t.client {
        line("client", c.to_string());
    }
    if let Some(pac) = &t.pac {
        pac_lines(pac, &mut line);
    }
    if let Some((auth, start, end)) = t.ticket_times {
        line("ticket authtime", format_rfc3339(auth));
        line(
            "ticket valid",
            format!(
                "{} .. {}",
                format_rfc3339(start.unwrap_or(auth)),
                format_rfc3339(end)
            ),
        );
    }
    if let Some(e) = t.session_etype {
        line("session key enctype", etype_name(e));
    }
    if let Some((ctime, cusec)) = t.authenticator_time {
        line(
            "authenticator time",
            format!(
                "{}.{cusec:06}Z",
                format_rfc3339(ctime).trim_end_matches('Z')
            ),
        );
    }
    if let Some(flags) = t.gss_flags {
        line("GSS flags", format!("0x{flags:x}"));
    }
    if let Some(bound) = t.channel_bound {
        line(
            "channel bindings",
            if bound {
                "bound to a TLS certificate (not checked here)".into()
            } else {
                "none".into()
            },
        );
    }
    line("verified as of", format_rfc3339(r.at));
    match (&r.accepted_client, &r.error) {
        (Some(client), _) => line(
            "verdict",
            format!("ACCEPT: {client} (the replay cache is not used here)"),
        ),
        (None, Some(e)) => {
            line("verdict", format!("REJECT ({}): {e}", e.reason()));
            line("fix", advice(e, t));
        }
        (None, None) => line("verdict", "REJECT".into()),
    }
    out
}

/// The report as one JSON object.
pub fn render_json(r: &Report) -> String {
    let t = &r.trace;
    let s = |v: Option<String>| v.map_or(serde_json::Value::Null, serde_json::Value::String);
    let json = serde_json::json!({
        "mechanism": mechanism(r),
        "service": s(t.service.as_ref().map(Principal::to_string)),
        "ticket_enctype": s(t.ticket_etype.map(etype_name)),
        "ticket_kvno": t.ticket_kvno,
        "key_kvno": t.key_kvno,
        "client": s(t.client.as_ref().map(Principal::to_string)),
        "ticket_authtime": s(t.ticket_times.map(|(a, _, _)| format_rfc3339(a))),
        "ticket_endtime": s(t.ticket_times.map(|(_, _, e)| format_rfc3339(e))),
        "authenticator_time": s(t.authenticator_time.map(|(c, _)| format_rfc3339(c))),
        "channel_bound": t.channel_bound,
        "pac": pac_json(t.pac.as_ref()),
        "at": format_rfc3339(r.at),
        "verdict": if r.accepted_client.is_some() { "accept" } else { "reject" },
        "reason": s(r.error.as_ref().map(|e| e.reason().to_owned())),
        "detail": s(r.error.as_ref().map(ToString::to_string)),
        "fix": s(r.error.as_ref().map(|e| advice(e, t))),
    });
    json.to_string()
}

#[cfg(test)]
#[path = "inspect_test.rs"]
mod tests;
