//! GSS-API token framing (RFC 2743 §3.1, RFC 4121 §4.1) and SPNEGO (RFC 4178) as HTTP
//! Negotiate (RFC 4559) carries them.
//!
//! What a browser sends after `WWW-Authenticate: Negotiate` is one of:
//!
//! ```text
//! InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {
//!         thisMech        MechType,           -- 1.3.6.1.5.5.2 (SPNEGO) or a Kerberos OID
//!         innerContextToken ANY DEFINED BY thisMech }
//!
//! NegotiationToken ::= CHOICE {
//!         negTokenInit    [0] NegTokenInit,
//!         negTokenResp    [1] NegTokenResp }
//!
//! NegTokenInit ::= SEQUENCE {
//!         mechTypes       [0] MechTypeList,
//!         reqFlags        [1] ContextFlags  OPTIONAL,
//!         mechToken       [2] OCTET STRING  OPTIONAL,
//!         mechListMIC     [3] OCTET STRING  OPTIONAL }
//! ```
//!
//! or a raw Kerberos token (thisMech = Kerberos, innerContextToken = `TOK_ID 01 00 | AP-REQ`),
//! or a bare `NTLMSSP\0` message from a client without a ticket.
//!
//! AD deviation: Windows lists the Microsoft Kerberos OID 1.2.840.48018.1.2.2 first (a
//! historical mis-encoding of 1.2.840.113554) and expects it back as `supportedMech`; the
//! inner token still carries the standard OID.

use crate::proto::der::{self, tag, Reader};
use crate::proto::error::AcceptError;

/// The most mechanisms a NegTokenInit may list. Windows sends four; the bound only keeps a
/// hostile list from costing work.
const MAX_MECHS: usize = 32;

/// OID contents octets (without tag and length) of the mechanisms we recognise.
pub mod oid {
    /// 1.3.6.1.5.5.2, SPNEGO.
    pub const SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    /// 1.2.840.113554.1.2.2, Kerberos V5 (RFC 4121).
    pub const KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.2.840.48018.1.2.2, Kerberos V5 as Microsoft encodes it (MS-KILE §3.1.5.11).
    pub const MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
    /// 1.3.6.1.4.1.311.2.2.10, NTLMSSP.
    pub const NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
    /// 1.3.6.1.4.1.311.2.2.30, NegoEx (MS-NEGOEX).
    pub const NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];
}

/// RFC 4121 §4.1 TOK_ID of a KRB_AP_REQ context token.
pub const TOK_ID_AP_REQ: [u8; 2] = [0x01, 0x00];
/// RFC 4121 §4.1 TOK_ID of a KRB_AP_REP context token.
pub const TOK_ID_AP_REP: [u8; 2] = [0x02, 0x00];

/// The signature that starts every NTLMSSP message (MS-NLMP §2.2).
const NTLMSSP_SIGNATURE: &[u8] = b"NTLMSSP\0";
/// The signature that starts every NegoEx message (MS-NEGOEX §2.2.6.1).
const NEGOEX_SIGNATURE: &[u8] = b"NEGOEXTS";

/// Which Kerberos OID the client used: the answer must echo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KrbOid {
    /// 1.2.840.113554.1.2.2.
    Standard,
    /// 1.2.840.48018.1.2.2.
    Microsoft,
}

impl KrbOid {
    /// The OID's contents octets.
    pub fn contents(self) -> &'static [u8] {
        match self {
            Self::Standard => oid::KRB5,
            Self::Microsoft => oid::MS_KRB5,
        }
    }
}

/// How the Kerberos token reached us; the reply uses the same framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Inside a SPNEGO NegTokenInit whose first mechanism is `first_mech`.
    Spnego {
        /// The client's preferred mechanism, echoed as `supportedMech`.
        first_mech: KrbOid,
    },
    /// A bare RFC 4121 token.
    Raw,
}

/// A Kerberos AP-REQ extracted from a client token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KerberosToken<'a> {
    /// The DER AP-REQ.
    pub ap_req: &'a [u8],
    /// How it was framed.
    pub framing: Framing,
}

fn malformed(what: &'static str) -> impl Fn(der::DerError) -> AcceptError {
    move |_| AcceptError::Malformed { what }
}

/// Renders OID contents octets in dotted form, for error messages.
pub fn oid_to_string(contents: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &b in contents {
        acc = acc.saturating_mul(128).saturating_add(u64::from(b & 0x7f));
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (acc / 40).min(2);
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Finds the Kerberos AP-REQ in what the client sent after `Negotiate `.
pub fn extract_client_token(buf: &[u8]) -> Result<KerberosToken<'_>, AcceptError> {
    if buf.starts_with(NTLMSSP_SIGNATURE) {
        return Err(AcceptError::Ntlm);
    }
    if buf.is_empty() {
        return Err(AcceptError::Malformed {
            what: "empty token",
        });
    }
    let outer =
        der::read_single(buf, tag::APPLICATION_0).map_err(malformed("GSS token framing"))?;
    let mut r = Reader::new(outer.value);
    let mech = r
        .read(tag::OID)
        .map_err(malformed("GSS token framing"))?
        .value;
    let inner = r.rest();
    match mech {
        m if m == oid::SPNEGO => extract_neg_token_init(inner),
        m if m == oid::KRB5 || m == oid::MS_KRB5 => Ok(KerberosToken {
            ap_req: extract_krb5_inner(inner)?,
            framing: Framing::Raw,
        }),
        m if m == oid::NTLMSSP => Err(AcceptError::Ntlm),
        m if m == oid::NEGOEX => Err(AcceptError::NegoEx),
        m => Err(AcceptError::UnsupportedMech {
            oid: oid_to_string(m),
        }),
    }
}

/// Strips `TOK_ID 01 00` from an RFC 4121 §4.1 inner token.
fn extract_krb5_inner(inner: &[u8]) -> Result<&[u8], AcceptError> {
    match inner.split_first_chunk::<2>() {
        Some((id, ap_req)) if *id == TOK_ID_AP_REQ => Ok(ap_req),
        Some(_) => Err(AcceptError::Malformed {
            what: "Kerberos TOK_ID (expected 01 00, AP-REQ)",
        }),
        None => Err(AcceptError::Malformed {
            what: "Kerberos token",
        }),
    }
}

fn extract_neg_token_init(inner: &[u8]) -> Result<KerberosToken<'_>, AcceptError> {
    let what = "SPNEGO NegTokenInit";
    let mut r = Reader::new(inner);
    let choice = r.read_any().map_err(malformed(what))?;
    r.finish().map_err(malformed(what))?;
    if choice.tag == tag::context(1) {
        // A NegTokenResp only continues a multi-leg negotiation, which we never start.
        return Err(AcceptError::Malformed {
            what: "SPNEGO token (NegTokenResp without a negotiation)",
        });
    }
    if choice.tag != tag::context(0) {
        return Err(AcceptError::Malformed { what });
    }
    let init = der::read_single(choice.value, tag::SEQUENCE).map_err(malformed(what))?;
    let mut fields = Reader::new(init.value);
    let mech_types = fields.read(tag::context(0)).map_err(malformed(what))?;
    let list = der::read_single(mech_types.value, tag::SEQUENCE).map_err(malformed(what))?;
    let mut mechs = Reader::new(list.value);
    let mut first = None;
    let mut count = 0;
    while !mechs.is_empty() {
        let m = mechs.read(tag::OID).map_err(malformed(what))?;
        count += 1;
        if count > MAX_MECHS {
            return Err(AcceptError::Malformed {
                what: "SPNEGO mechTypes (too many)",
            });
        }
        first.get_or_insert(m.value);
    }
    let first = first.ok_or(AcceptError::Malformed {
        what: "SPNEGO mechTypes (empty)",
    })?;
    let _req_flags = fields
        .read_optional(tag::context(1))
        .map_err(malformed(what))?;
    let mech_token = fields
        .read_optional(tag::context(2))
        .map_err(malformed(what))?;
    // mechListMIC: the initiator only sends one in a later leg (RFC 4178 §5); an optimistic
    // Kerberos token completes in one leg, where neither side needs it.
    let _mic = fields
        .read_optional(tag::context(3))
        .map_err(malformed(what))?;
    fields.finish().map_err(malformed(what))?;

    let token = match mech_token {
        Some(t) => {
            der::read_single(t.value, tag::OCTET_STRING)
                .map_err(malformed(what))?
                .value
        }
        None => &[],
    };
    if token.starts_with(NTLMSSP_SIGNATURE) || first == oid::NTLMSSP {
        return Err(AcceptError::Ntlm);
    }
    if token.starts_with(NEGOEX_SIGNATURE) || first == oid::NEGOEX {
        return Err(AcceptError::NegoEx);
    }
    let first_mech = match first {
        m if m == oid::MS_KRB5 => KrbOid::Microsoft,
        m if m == oid::KRB5 => KrbOid::Standard,
        m => {
            return Err(AcceptError::UnsupportedMech {
                oid: oid_to_string(m),
            })
        }
    };
    if token.is_empty() {
        return Err(AcceptError::NoMechToken);
    }
    let krb =
        der::read_single(token, tag::APPLICATION_0).map_err(malformed("Kerberos GSS token"))?;
    let mut k = Reader::new(krb.value);
    let inner_mech = k
        .read(tag::OID)
        .map_err(malformed("Kerberos GSS token"))?
        .value;
    if inner_mech != oid::KRB5 && inner_mech != oid::MS_KRB5 {
        return Err(AcceptError::UnsupportedMech {
            oid: oid_to_string(inner_mech),
        });
    }
    Ok(KerberosToken {
        ap_req: extract_krb5_inner(k.rest())?,
        framing: Framing::Spnego { first_mech },
    })
}

/// Frames a Kerberos context token: `[APPLICATION 0] { krb5 OID, TOK_ID, message }`.
pub fn build_krb5_token(tok_id: [u8; 2], message: &[u8]) -> Vec<u8> {
    let oid_tlv = der::tlv(tag::OID, &[oid::KRB5]);
    der::tlv(tag::APPLICATION_0, &[&oid_tlv, &tok_id, message])
}

/// `negState` of a NegTokenResp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum NegState {
    /// accept-completed (0).
    AcceptCompleted = 0,
    /// accept-incomplete (1).
    AcceptIncomplete = 1,
    /// reject (2).
    Reject = 2,
}

/// Builds the acceptor's answer:
///
/// ```text
/// NegTokenResp ::= SEQUENCE {
///         negState       [0] ENUMERATED { accept-completed(0), accept-incomplete(1),
///                                         reject(2), request-mic(3) } OPTIONAL,
///         supportedMech  [1] MechType      OPTIONAL,
///         responseToken  [2] OCTET STRING  OPTIONAL,
///         mechListMIC    [3] OCTET STRING  OPTIONAL }
/// ```
///
/// wrapped in the `[1]` arm of NegotiationToken (no `[APPLICATION 0]` framing: RFC 4178 §4.2
/// only frames the initiator's first token).
pub fn build_neg_token_resp(
    state: NegState,
    mech: Option<KrbOid>,
    response_token: Option<&[u8]>,
) -> Vec<u8> {
    let mut fields = der::tlv(
        tag::context(0),
        &[&der::tlv(tag::ENUMERATED, &[&[state as u8]])],
    );
    if let Some(m) = mech {
        fields.extend(der::tlv(
            tag::context(1),
            &[&der::tlv(tag::OID, &[m.contents()])],
        ));
    }
    if let Some(t) = response_token {
        fields.extend(der::tlv(
            tag::context(2),
            &[&der::tlv(tag::OCTET_STRING, &[t])],
        ));
    }
    der::tlv(tag::context(1), &[&der::tlv(tag::SEQUENCE, &[&fields])])
}

/// Builds a client's NegTokenInit around a Kerberos AP-REQ, as browsers send it. Used by tests
/// and by the bench's token minting.
pub fn build_neg_token_init(mechs: &[&[u8]], ap_req: &[u8]) -> Vec<u8> {
    let list: Vec<u8> = mechs
        .iter()
        .flat_map(|m| der::tlv(tag::OID, &[m]))
        .collect();
    let mech_types = der::tlv(tag::context(0), &[&der::tlv(tag::SEQUENCE, &[&list])]);
    let krb = build_krb5_token(TOK_ID_AP_REQ, ap_req);
    let mech_token = der::tlv(tag::context(2), &[&der::tlv(tag::OCTET_STRING, &[&krb])]);
    let init = der::tlv(
        tag::context(0),
        &[&der::tlv(tag::SEQUENCE, &[&mech_types, &mech_token])],
    );
    der::tlv(
        tag::APPLICATION_0,
        &[&der::tlv(tag::OID, &[oid::SPNEGO]), &init],
    )
}

#[cfg(test)]
#[path = "spnego_test.rs"]
mod tests;
