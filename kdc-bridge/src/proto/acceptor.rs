//! The Kerberos acceptor: a client token in, a verified identity and the mutual-authentication
//! answer out (RFC 4120 §3.2.3, RFC 4121 §4.1, RFC 4178, RFC 4559).
//!
//! Sans-IO: the caller gives the time, randomness, the keys and the replay cache. Checks run
//! in the order MIT's `krb5_rd_req_decoded` runs them (ticket, authenticator, client match,
//! ticket times, authenticator time, INVALID flag, enctypes, then the GSS checksum), so both
//! report the same first failure; the one deliberate difference is the replay check, which
//! MIT runs before the times and we run last (see below). `tests/tests/differential.rs`
//! compares the two on tokens from a Samba AD DC.

use zeroize::Zeroizing;

use crate::proto::crypto::{Enctype, Key, KeyUsage, MAX_CONFOUNDER_LEN, MAX_KEY_LEN};
use crate::proto::error::AcceptError;
use crate::proto::gss::{self, ChannelBindingPolicy};
use crate::proto::keys::ServiceKey;
use crate::proto::keys::ServiceKeys;
use crate::proto::krb::messages::EncTicketPart;
use crate::proto::krb::messages::{
    ap_options, build_ap_rep, build_enc_ap_rep_part, extract_ap_req, extract_authenticator,
    extract_enc_ticket_part, ticket_flags, PrincipalName,
};
use crate::proto::pac::{self, buffer_type, find_pac, Pac, PacError, PacIdentity};
use crate::proto::principal::Principal;
use crate::proto::replay::{fingerprint, ReplayCache, ReplayError};
use crate::proto::spnego::{
    build_krb5_token, build_neg_token_resp, extract_client_token, Framing, NegState, TOK_ID_AP_REP,
};

/// The default allowed clock skew, as in MIT and AD: five minutes.
pub const DEFAULT_SKEW_SECS: i64 = 300;

/// A source of random bytes (the AP-REP confounder, subkey and sequence number).
pub trait Randomness {
    /// Fills `buf` with unpredictable bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// What the acceptor is configured to accept.
#[derive(Debug, Clone)]
pub struct AcceptorConfig {
    /// The service principals tickets may be for. Empty: any principal the keytab has.
    pub spns: Vec<Principal>,
    /// Allowed clock skew in seconds, for ticket times and the authenticator time.
    pub max_skew_secs: i64,
    /// How channel bindings in the authenticator are checked.
    pub channel_bindings: ChannelBindingPolicy,
    /// What is done with the ticket's PAC.
    pub pac: PacPolicy,
}

impl Default for AcceptorConfig {
    fn default() -> Self {
        Self {
            spns: Vec::new(),
            max_skew_secs: DEFAULT_SKEW_SECS,
            channel_bindings: ChannelBindingPolicy::Enforce,
            pac: PacPolicy::default(),
        }
    }
}

/// What the acceptor does with the PAC ([MS-PAC]) in a ticket.
///
/// A PAC that is present is verified under the first two: its server checksum with the
/// service key and its client information against the ticket. A PAC that fails refuses the
/// ticket ([`AcceptError::BadPac`]). MIT's acceptor differs here: it accepts the ticket and
/// only leaves the PAC unverified (`mspac_verify` in `src/lib/krb5/krb/pac.c`), because
/// some KDCs copy PACs across realms without re-signing them; a gateway that hands the PAC's
/// groups to applications must not.
///
/// [MS-PAC]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacPolicy {
    /// Verify a PAC when the ticket has one; a ticket without one is accepted without PAC
    /// groups (an MIT or Heimdal KDC, or an AD account with `NO_AUTH_DATA_REQUIRED`).
    #[default]
    VerifyIfPresent,
    /// Every ticket must carry a PAC that verifies (an AD-only deployment).
    Require,
    /// Never read the PAC (a KDC whose PACs are known to be broken); no PAC groups.
    Ignore,
}

/// The PAC as the trace saw it, right after the ticket was decrypted and before any check:
/// decoded but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacTrace {
    /// The ticket carries no PAC.
    Absent,
    /// It decodes to this identity.
    Decoded(Box<PacIdentity>),
    /// It does not decode.
    Undecodable(PacError),
}

/// One token to verify.
#[derive(Debug, Clone, Copy)]
pub struct AcceptRequest<'a> {
    /// The token as decoded from `Authorization: Negotiate <base64>`.
    pub token: &'a [u8],
    /// The current time, Unix seconds.
    pub now: i64,
    /// The MD5 channel-binding hash of this connection (see [`gss::channel_binding_hash`]),
    /// when it is TLS.
    pub channel_binding: Option<&'a [u8; 16]>,
}

/// A verified client.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The client principal, e.g. `alice@CORP.TEST`.
    pub client: Principal,
    /// The service principal the ticket was for, as the keytab spells it.
    pub service: Principal,
    /// The enctype the ticket was encrypted with.
    pub ticket_enctype: Enctype,
    /// The key version used.
    pub kvno: u32,
    /// The session key's enctype.
    pub session_enctype: Enctype,
    /// When the client authenticated to the KDC (Unix seconds).
    pub auth_time: i64,
    /// When the ticket expires (Unix seconds).
    pub end_time: i64,
    /// The GSS context flags the client asked for.
    pub gss_flags: u32,
    /// Whether the client delegated a TGT (it is dropped, never stored).
    pub delegated: bool,
    /// The verified PAC's identity (user and group SIDs, UPN, logon domain), when the ticket
    /// has a PAC and the policy reads it.
    pub pac: Option<Box<PacIdentity>>,
    /// The token for `WWW-Authenticate: Negotiate <base64>` on the success response: a
    /// NegTokenResp (SPNEGO) or a raw AP-REP token. `None` for raw Kerberos without mutual
    /// authentication.
    pub response_token: Option<Vec<u8>>,
}

/// What the acceptor learned about a token, step by step, whatever the verdict: for
/// `iwa-gateway token inspect`. Fields stay `None` past the step where a token was refused.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// How the Kerberos token was framed.
    pub framing: Option<Framing>,
    /// AP-REQ options.
    pub ap_options: Option<u32>,
    /// The ticket's service principal, as the client wrote it (cleartext).
    pub service: Option<Principal>,
    /// The ticket's enctype number.
    pub ticket_etype: Option<i32>,
    /// The ticket's kvno, if it names one.
    pub ticket_kvno: Option<u32>,
    /// The kvno of the keytab key that was used.
    pub key_kvno: Option<u32>,
    /// The client principal from the decrypted ticket.
    pub client: Option<Principal>,
    /// Ticket flags.
    pub ticket_flags: Option<u32>,
    /// Ticket authtime, starttime and endtime (Unix seconds).
    pub ticket_times: Option<(i64, Option<i64>, i64)>,
    /// The session key's enctype number.
    pub session_etype: Option<i32>,
    /// The authenticator's time (Unix seconds) and microseconds.
    pub authenticator_time: Option<(i64, u32)>,
    /// The GSS context flags from the checksum.
    pub gss_flags: Option<u32>,
    /// Whether the token is bound to a channel (a TLS certificate).
    pub channel_bound: Option<bool>,
    /// The PAC, decoded (not verified) as soon as the ticket was decrypted, whatever the
    /// policy, so that diagnostics show it even for a ticket refused for another reason.
    pub pac: Option<PacTrace>,
}

/// The acceptor.
#[derive(Debug, Clone, Default)]
pub struct Acceptor {
    config: AcceptorConfig,
}

fn malformed(what: &'static str) -> impl Fn(crate::proto::krb::asn1::Asn1Error) -> AcceptError {
    move |_| AcceptError::Malformed { what }
}

fn names_equal(a: &PrincipalName<'_>, a_realm: &str, b: &PrincipalName<'_>, b_realm: &str) -> bool {
    // Exact, as MIT's krb5_principal_compare (name types ignored): both sides come from the
    // same client and KDC.
    a_realm == b_realm && a.components == b.components
}

impl Acceptor {
    /// An acceptor with `config`.
    pub fn new(config: AcceptorConfig) -> Self {
        Self { config }
    }

    /// The configuration.
    pub fn config(&self) -> &AcceptorConfig {
        &self.config
    }

    /// Verifies one token.
    pub fn accept(
        &self,
        keys: &ServiceKeys,
        replay: &dyn ReplayCache,
        rng: &mut dyn Randomness,
        req: &AcceptRequest<'_>,
    ) -> Result<Accepted, AcceptError> {
        self.accept_inner(keys, replay, rng, req, None)
    }

    /// Verifies one token, recording in `trace` what each step found (for diagnostics; the
    /// verdict is exactly that of [`Acceptor::accept`]).
    pub fn accept_traced(
        &self,
        keys: &ServiceKeys,
        replay: &dyn ReplayCache,
        rng: &mut dyn Randomness,
        req: &AcceptRequest<'_>,
        trace: &mut Trace,
    ) -> Result<Accepted, AcceptError> {
        self.accept_inner(keys, replay, rng, req, Some(trace))
    }

    fn accept_inner(
        &self,
        keys: &ServiceKeys,
        replay: &dyn ReplayCache,
        rng: &mut dyn Randomness,
        req: &AcceptRequest<'_>,
        mut trace: Option<&mut Trace>,
    ) -> Result<Accepted, AcceptError> {
        let skew = self.config.max_skew_secs;
        let now = req.now;
        let token = extract_client_token(req.token)?;
        if let Some(t) = trace.as_deref_mut() {
            t.framing = Some(token.framing);
        }
        let ap_req = extract_ap_req(token.ap_req).map_err(malformed("AP-REQ"))?;
        if let Some(t) = trace.as_deref_mut() {
            t.ap_options = Some(ap_req.ap_options);
            t.service = Some(ap_req.ticket.sname.to_principal(ap_req.ticket.realm));
            t.ticket_etype = Some(ap_req.ticket.enc_part.etype);
            t.ticket_kvno = ap_req.ticket.enc_part.kvno;
        }
        if ap_req.ap_options & ap_options::USE_SESSION_KEY != 0 {
            return Err(AcceptError::UnsupportedOption {
                what: "user-to-user (use-session-key)",
            });
        }

        // The ticket: for us, decryptable with our key.
        let ticket = &ap_req.ticket;
        let service = ticket.sname.to_principal(ticket.realm);
        self.check_spn(keys, &service)?;
        let enc = ticket.enc_part;
        let key = keys
            .find(&service, enc.kvno, enc.etype)
            .map_err(|m| AcceptError::NoKey { detail: m.detail })?;
        let ticket_enctype = key.key.enctype();
        if let Some(t) = trace.as_deref_mut() {
            t.key_kvno = Some(key.kvno);
        }
        // The plaintexts hold the session key and the subkey: wiped when the accept ends.
        let plain = key
            .ticket_key
            .decrypt(enc.cipher)
            .map(Zeroizing::new)
            .map_err(|_| AcceptError::TicketDecryptFailed {
                principal: service.to_string(),
                kvno: key.kvno,
                enctype: ticket_enctype.name(),
                kvno_matched: enc.kvno == Some(key.kvno),
            })?;
        let part = extract_enc_ticket_part(&plain).map_err(malformed("EncTicketPart"))?;
        if let Some(t) = trace.as_deref_mut() {
            t.client = Some(part.cname.to_principal(part.crealm));
            t.ticket_flags = Some(part.flags);
            t.ticket_times = Some((part.authtime, part.starttime, part.endtime));
            t.session_etype = Some(part.key.keytype);
            t.pac = Some(trace_pac(&part));
        }
        let session_enctype =
            Enctype::try_from(part.key.keytype).map_err(|_| AcceptError::UnsupportedEnctype {
                etype: part.key.keytype,
            })?;
        let session_key = Key::from_bytes(session_enctype, part.key.value).map_err(|_| {
            AcceptError::Malformed {
                what: "session key",
            }
        })?;

        // The authenticator: encrypted in the session key, same client as the ticket.
        let auth_enc = ap_req.authenticator;
        if auth_enc.etype != session_enctype.etype() {
            return Err(AcceptError::AuthenticatorDecryptFailed);
        }
        let auth_plain = session_key
            .usage_key(KeyUsage::AP_REQ_AUTHENTICATOR)
            .and_then(|k| k.decrypt(auth_enc.cipher))
            .map(Zeroizing::new)
            .map_err(|_| AcceptError::AuthenticatorDecryptFailed)?;
        let auth = extract_authenticator(&auth_plain).map_err(malformed("Authenticator"))?;
        if let Some(t) = trace.as_deref_mut() {
            t.authenticator_time = Some((auth.ctime, auth.cusec));
        }
        if !names_equal(&auth.cname, auth.crealm, &part.cname, part.crealm) {
            return Err(AcceptError::ClientMismatch {
                ticket: part.cname.to_principal(part.crealm).to_string(),
                authenticator: auth.cname.to_principal(auth.crealm).to_string(),
            });
        }
        let client = part.cname.to_principal(part.crealm);

        // Times: the ticket's first, then the authenticator's, as MIT (krb5int_validate_times,
        // then krb5_check_clockskew).
        let starttime = part.starttime.unwrap_or(part.authtime);
        if starttime - now > skew {
            return Err(AcceptError::TicketNotYetValid {
                starttime,
                now,
                skew,
            });
        }
        if now - part.endtime > skew {
            return Err(AcceptError::TicketExpired {
                endtime: part.endtime,
                now,
                skew,
            });
        }
        if (auth.ctime - now).abs() > skew {
            return Err(AcceptError::ClockSkew {
                ctime: auth.ctime,
                now,
                skew,
            });
        }
        if part.flags & ticket_flags::INVALID != 0 {
            return Err(AcceptError::TicketInvalid);
        }
        // The client's subkey (RFC 4120 §5.5.1) sets the enctype of our AP-REP subkey, so it
        // must be one we implement. MIT likewise refuses subkeys of enctypes that are not
        // permitted (rd_req_dec.c, KRB5_NOPERM_ETYPE). Its key octets are never used here.
        if let Some(subkey) = auth.subkey {
            Enctype::try_from(subkey.keytype).map_err(|_| AcceptError::UnsupportedEnctype {
                etype: subkey.keytype,
            })?;
        }

        // The GSS checksum binds flags and channel bindings to this authenticator.
        let cksum = auth.cksum.ok_or(AcceptError::BadChecksum {
            what: "authenticator has no checksum",
        })?;
        let gss = gss::verify_checksum(
            cksum.cksumtype,
            cksum.value,
            req.channel_binding,
            self.config.channel_bindings,
        )?;
        if let Some(t) = trace {
            t.gss_flags = Some(gss.flags);
            t.channel_bound = Some(gss.channel_bound);
        }

        // The PAC: after the cheap checks, before the replay slot.
        let pac = self.verify_pac(&part, key)?;

        // Replay: last, so that only authenticators that would otherwise pass take a slot.
        // The service is the keytab principal whose key opened the ticket, not the ticket's
        // cleartext sname: that one is unauthenticated and matched ignoring case, so a replay
        // with `HTTP/GW.corp.test` in it would otherwise get a fingerprint of its own.
        let fp = fingerprint(
            &client.to_string(),
            auth.ctime,
            auth.cusec,
            &key.principal.to_string(),
            auth_enc.cipher,
        );
        replay.check_and_insert(fp).map_err(|e| match e {
            ReplayError::Replayed => AcceptError::Replay,
            ReplayError::Full => AcceptError::ReplayCacheUnavailable {
                what: "replay cache is full",
            },
            ReplayError::Unavailable => AcceptError::ReplayCacheUnavailable {
                what: "replay cache backend failed",
            },
        })?;

        let mutual = ap_req.ap_options & ap_options::MUTUAL_REQUIRED != 0
            || gss.flags & gss::flags::MUTUAL != 0;
        let ap_rep = if mutual {
            // Checked above: a subkey's enctype is supported.
            let subkey_enctype = auth
                .subkey
                .and_then(|k| Enctype::try_from(k.keytype).ok())
                .unwrap_or(session_enctype);
            Some(build_mutual_reply(
                &session_key,
                subkey_enctype,
                auth.ctime,
                auth.cusec,
                rng,
            )?)
        } else {
            None
        };
        let response_token = match token.framing {
            Framing::Spnego { first_mech } => Some(build_neg_token_resp(
                NegState::AcceptCompleted,
                Some(first_mech),
                ap_rep.as_deref(),
            )),
            Framing::Raw => ap_rep,
        };

        Ok(Accepted {
            client,
            // The keytab's spelling: the ticket's cleartext sname is the client's (any case).
            service: key.principal.clone(),
            ticket_enctype,
            kvno: key.kvno,
            session_enctype,
            auth_time: part.authtime,
            end_time: part.endtime,
            gss_flags: gss.flags,
            delegated: gss.delegated,
            pac,
            response_token,
        })
    }

    /// The verified PAC identity of the ticket, per [`PacPolicy`].
    fn verify_pac(
        &self,
        part: &EncTicketPart<'_>,
        key: &ServiceKey,
    ) -> Result<Option<Box<PacIdentity>>, AcceptError> {
        let policy = self.config.pac;
        if policy == PacPolicy::Ignore {
            return Ok(None);
        }
        let found = match part.authorization_data {
            Some(ad) => find_pac(ad)?,
            None => None,
        };
        let Some(bytes) = found else {
            return match policy {
                PacPolicy::Require => Err(PacError::NoPac.into()),
                PacPolicy::VerifyIfPresent | PacPolicy::Ignore => Ok(None),
            };
        };
        let pac = match Pac::extract(bytes) {
            Ok(pac) => pac,
            // MIT krb5 (1.20 and later) and Heimdal KDCs sign a PAC without logon information:
            // checked like AD's, it names no SIDs, so the ticket has no PAC identity. `require`
            // asks for an AD PAC and refuses it.
            Err(PacError::MissingBuffer { ul_type })
                if ul_type == buffer_type::LOGON_INFO && policy == PacPolicy::VerifyIfPresent =>
            {
                pac::verify_without_logon_info(
                    bytes,
                    &key.pac_key,
                    &part.cname.components,
                    part.authtime,
                )?;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        pac.verify_server_checksum(&key.pac_key)?;
        pac.check_client_info(&part.cname.components, part.authtime)?;
        Ok(Some(Box::new(pac.into_identity())))
    }

    fn check_spn(&self, keys: &ServiceKeys, service: &Principal) -> Result<(), AcceptError> {
        let spns = &self.config.spns;
        if spns.is_empty() {
            if keys.has_principal(service) {
                return Ok(());
            }
            let expected = keys
                .iter()
                .map(|k| k.principal.to_string())
                .collect::<Vec<_>>();
            return Err(AcceptError::WrongSpn {
                expected: dedup_join(expected),
                got: service.to_string(),
            });
        }
        if spns.iter().any(|s| s.matches(service)) {
            return Ok(());
        }
        if spns.iter().any(|s| s.name_matches(service.components())) {
            let realms = spns.iter().map(|s| s.realm().to_owned()).collect();
            return Err(AcceptError::WrongRealm {
                expected: dedup_join(realms),
                got: service.realm().to_owned(),
            });
        }
        let expected = spns.iter().map(Principal::to_string).collect();
        Err(AcceptError::WrongSpn {
            expected: dedup_join(expected),
            got: service.to_string(),
        })
    }
}

/// The PAC of a decrypted ticket, decoded for [`Trace`].
fn trace_pac(part: &EncTicketPart<'_>) -> PacTrace {
    let found = match part.authorization_data {
        Some(ad) => find_pac(ad),
        None => Ok(None),
    };
    match found.and_then(|f| f.map(Pac::extract).transpose()) {
        Ok(None) => PacTrace::Absent,
        Ok(Some(pac)) => PacTrace::Decoded(Box::new(pac.into_identity())),
        Err(e) => PacTrace::Undecodable(e),
    }
}

fn dedup_join(mut v: Vec<String>) -> String {
    v.sort();
    v.dedup();
    v.join(", ")
}

/// Builds the GSS-framed AP-REP (RFC 4121 §4.1, RFC 4120 §5.5.2). Like MIT and Windows, the
/// acceptor sends its own subkey for AES sessions (RFC 4121 §2: the "acceptor subkey") and a
/// random initial sequence number; RC4 sessions get no subkey.
fn build_mutual_reply(
    session_key: &Key,
    subkey_enctype: Enctype,
    ctime: i64,
    cusec: u32,
    rng: &mut dyn Randomness,
) -> Result<Vec<u8>, AcceptError> {
    let mut seq = [0u8; 4];
    rng.fill(&mut seq);
    // MIT keeps the top bits clear so peers that read the number as signed agree with us.
    let seq = u32::from_be_bytes(seq) & 0x3fff_ffff;
    let subkey = match subkey_enctype {
        Enctype::Rc4Hmac => None,
        e => {
            let mut bytes = [0u8; MAX_KEY_LEN];
            rng.fill(&mut bytes);
            Some(Key::random(e, &bytes))
        }
    };
    let part = build_enc_ap_rep_part(
        ctime,
        cusec,
        subkey.as_ref().map(|k| (k.enctype().etype(), k.as_bytes())),
        Some(seq),
    );
    let mut confounder = [0u8; MAX_CONFOUNDER_LEN];
    rng.fill(&mut confounder);
    let cipher = session_key
        .usage_key(KeyUsage::AP_REP_ENC_PART)
        .map(|k| k.encrypt(&part, &confounder))
        .map_err(|_| AcceptError::Malformed {
            what: "session key",
        })?;
    Ok(build_krb5_token(
        TOK_ID_AP_REP,
        &build_ap_rep(session_key.enctype().etype(), &cipher),
    ))
}

#[cfg(test)]
#[path = "acceptor_test.rs"]
mod tests;
