//! A reachability probe for a KDC: an AS-REQ without pre-authentication for a principal that
//! does not exist, and the KRB-ERROR the KDC answers it with (RFC 4120 §5.4.1, §5.9.1).
//!
//! `iwa-gateway doctor` sends it over UDP 88, where a bare "port open" cannot be seen: any
//! KRB-ERROR (normally `KDC_ERR_C_PRINCIPAL_UNKNOWN`, 6) proves a KDC answered. The request
//! carries no key material and asks for nothing a KDC would issue.
//!
//! ```text
//! AS-REQ          ::= [APPLICATION 10] KDC-REQ
//! KDC-REQ         ::= SEQUENCE {
//!         pvno            [1] INTEGER (5) ,
//!         msg-type        [2] INTEGER (10 -- AS -- | 12 -- TGS --),
//!         padata          [3] SEQUENCE OF PA-DATA OPTIONAL,
//!         req-body        [4] KDC-REQ-BODY }
//! KDC-REQ-BODY    ::= SEQUENCE {
//!         kdc-options             [0] KDCOptions,
//!         cname                   [1] PrincipalName OPTIONAL,
//!         realm                   [2] Realm,
//!         sname                   [3] PrincipalName OPTIONAL,
//!         from                    [4] KerberosTime OPTIONAL,
//!         till                    [5] KerberosTime,
//!         rtime                   [6] KerberosTime OPTIONAL,
//!         nonce                   [7] UInt32,
//!         etype                   [8] SEQUENCE OF Int32, ... }
//!
//! KRB-ERROR       ::= [APPLICATION 30] SEQUENCE {
//!         pvno            [0] INTEGER (5),
//!         msg-type        [1] INTEGER (30),
//!         ctime           [2] KerberosTime OPTIONAL,
//!         cusec           [3] Microseconds OPTIONAL,
//!         stime           [4] KerberosTime,
//!         susec           [5] Microseconds,
//!         error-code      [6] Int32,
//!         crealm          [7] Realm OPTIONAL,
//!         cname           [8] PrincipalName OPTIONAL,
//!         realm           [9] Realm -- service realm --,
//!         sname           [10] PrincipalName -- service name --,
//!         e-text          [11] KerberosString OPTIONAL,
//!         e-data          [12] OCTET STRING OPTIONAL }
//! ```

use super::asn1::{
    explicit, explicit_optional, in_explicit, integer, read_i32, read_integer, read_microseconds,
    read_string, read_time, sequence, time, utag, wrap, Asn1Error,
};
use crate::proto::der::{self, tag, Reader};

/// `[APPLICATION 10]` AS-REQ.
pub const TAG_AS_REQ: u8 = 0x6a;
/// `[APPLICATION 11]` AS-REP.
pub const TAG_AS_REP: u8 = 0x6b;
/// `[APPLICATION 30]` KRB-ERROR.
pub const TAG_KRB_ERROR: u8 = 0x7e;

/// `KRB_NT_PRINCIPAL`.
const NT_PRINCIPAL: i64 = 1;
/// `KRB_NT_SRV_INST`.
const NT_SRV_INST: i64 = 2;
/// The etypes offered: aes256, aes128, rc4-hmac.
const ETYPES: [i64; 3] = [0x12, 0x11, 0x17];

/// What a probe AS-REQ is made of.
#[derive(Debug, Clone, Copy)]
pub struct ProbeRequest<'a> {
    /// The client name, one component (a random name no account has).
    pub client: &'a str,
    /// The realm asked.
    pub realm: &'a str,
    /// The `till` time (Unix seconds).
    pub till: i64,
    /// The nonce.
    pub nonce: u32,
}

fn build_name(name_type: i64, components: &[&str]) -> Vec<u8> {
    let strings: Vec<u8> = components
        .iter()
        .flat_map(|c| der::tlv(utag::GENERAL_STRING, &[c.as_bytes()]))
        .collect();
    der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &integer(name_type)),
            &wrap(1, &der::tlv(tag::SEQUENCE, &[&strings])),
        ],
    )
}

/// Encodes the probe AS-REQ: no padata, `krbtgt/REALM` as the service, no KDC options.
pub fn build_probe_as_req(req: &ProbeRequest<'_>) -> Vec<u8> {
    let realm = der::tlv(utag::GENERAL_STRING, &[req.realm.as_bytes()]);
    let etypes: Vec<u8> = ETYPES.iter().flat_map(|e| integer(*e)).collect();
    let body = der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &der::tlv(tag::BIT_STRING, &[&[0, 0, 0, 0, 0]])),
            &wrap(1, &build_name(NT_PRINCIPAL, &[req.client])),
            &wrap(2, &realm),
            &wrap(3, &build_name(NT_SRV_INST, &["krbtgt", req.realm])),
            &wrap(5, &time(req.till)),
            &wrap(7, &integer(i64::from(req.nonce))),
            &wrap(8, &der::tlv(tag::SEQUENCE, &[&etypes])),
        ],
    );
    let kdc_req = der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(1, &integer(5)),
            &wrap(2, &integer(10)),
            &wrap(4, &body),
        ],
    );
    der::tlv(TAG_AS_REQ, &[&kdc_req])
}

/// The fields of a KRB-ERROR the probe reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrbErrorReply {
    /// The KDC's time (Unix seconds).
    pub stime: i64,
    /// `error-code`.
    pub error_code: i32,
    /// The realm the KDC answered for.
    pub realm: String,
}

/// What came back for a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeReply {
    /// A KRB-ERROR: a KDC answered.
    Error(KrbErrorReply),
    /// An AS-REP: a KDC answered, and the random name exists without pre-authentication.
    AsRep,
}

/// Reads a KDC's answer to [`build_probe_as_req`].
pub fn extract_probe_reply(buf: &[u8]) -> Result<ProbeReply, Asn1Error> {
    if buf.first() == Some(&TAG_AS_REP) {
        der::read_single(buf, TAG_AS_REP)?;
        return Ok(ProbeReply::AsRep);
    }
    let outer = der::read_single(buf, TAG_KRB_ERROR)?;
    let mut r = Reader::new(outer.value);
    let reply = sequence(&mut r, tag::SEQUENCE, |r| {
        if in_explicit(explicit(r, 0)?, read_integer)? != 5
            || in_explicit(explicit(r, 1)?, read_integer)? != 30
        {
            return Err(Asn1Error::BadValue);
        }
        if let Some(ctime) = explicit_optional(r, 2)? {
            in_explicit(ctime, read_time)?;
        }
        if let Some(cusec) = explicit_optional(r, 3)? {
            in_explicit(cusec, read_microseconds)?;
        }
        let stime = in_explicit(explicit(r, 4)?, read_time)?;
        in_explicit(explicit(r, 5)?, read_microseconds)?;
        let error_code = in_explicit(explicit(r, 6)?, read_i32)?;
        if let Some(crealm) = explicit_optional(r, 7)? {
            in_explicit(crealm, read_string)?;
        }
        // cname, sname, e-text and e-data are not needed: skip what is left after the realm.
        let _cname = explicit_optional(r, 8)?;
        let realm = in_explicit(explicit(r, 9)?, read_string)?.to_owned();
        while !r.is_empty() {
            r.read_any()?;
        }
        Ok(KrbErrorReply {
            stime,
            error_code,
            realm,
        })
    })?;
    r.finish()?;
    Ok(ProbeReply::Error(reply))
}

/// The RFC 4120 §7.5.9 name of a KDC error code a probe may meet.
pub fn krb_error_name(code: i32) -> &'static str {
    match code {
        0 => "KDC_ERR_NONE",
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        37 => "KRB_AP_ERR_SKEW",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        60 => "KRB_ERR_GENERIC",
        68 => "KDC_ERR_WRONG_REALM",
        _ => "KDC error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A KRB-ERROR as Samba 4.17 answers an unknown client (fields in order, no e-data).
    fn krb_error(code: i64, with_ctime: bool, trailing: &[u8]) -> Vec<u8> {
        let mut fields = Vec::new();
        fields.extend(wrap(0, &integer(5)));
        fields.extend(wrap(1, &integer(30)));
        if with_ctime {
            fields.extend(wrap(2, &time(1_795_000_000)));
            fields.extend(wrap(3, &integer(12)));
        }
        fields.extend(wrap(4, &time(1_795_000_042)));
        fields.extend(wrap(5, &integer(999_999)));
        fields.extend(wrap(6, &integer(code)));
        fields.extend(wrap(
            9,
            &der::tlv(utag::GENERAL_STRING, &[b"CORP.TEST".as_slice()]),
        ));
        fields.extend(wrap(10, &build_name(NT_SRV_INST, &["krbtgt", "CORP.TEST"])));
        fields.extend(wrap(
            11,
            &der::tlv(utag::GENERAL_STRING, &[b"no such user".as_slice()]),
        ));
        fields.extend_from_slice(trailing);
        der::tlv(TAG_KRB_ERROR, &[&der::tlv(tag::SEQUENCE, &[&fields])])
    }

    #[test]
    fn reads_krb_errors() {
        let expected = ProbeReply::Error(KrbErrorReply {
            stime: 1_795_000_042,
            error_code: 6,
            realm: "CORP.TEST".to_owned(),
        });
        assert_eq!(
            extract_probe_reply(&krb_error(6, false, &[])),
            Ok(expected.clone())
        );
        assert_eq!(extract_probe_reply(&krb_error(6, true, &[])), Ok(expected));
        assert_eq!(krb_error_name(6), "KDC_ERR_C_PRINCIPAL_UNKNOWN");
    }

    #[test]
    fn refuses_what_is_not_a_krb_error() {
        // Wrong msg-type inside a KRB-ERROR frame.
        let mut bad = krb_error(6, false, &[]);
        let pos = bad.windows(3).position(|w| w == [0x02, 0x01, 30]).unwrap();
        bad[pos + 2] = 31;
        assert_eq!(extract_probe_reply(&bad), Err(Asn1Error::BadValue));
        // Trailing octets after the message.
        let mut long = krb_error(6, false, &[]);
        long.push(0);
        assert_eq!(
            extract_probe_reply(&long),
            Err(Asn1Error::Der(der::DerError::TrailingData { len: 1 }))
        );
        // Truncated; an AS-REQ echoed back; nothing at all.
        let full = krb_error(6, false, &[]);
        assert!(matches!(
            extract_probe_reply(&full[..full.len() - 3]),
            Err(Asn1Error::Der(_))
        ));
        let req = build_probe_as_req(&ProbeRequest {
            client: "x",
            realm: "CORP.TEST",
            till: 0,
            nonce: 1,
        });
        assert_eq!(
            extract_probe_reply(&req),
            Err(Asn1Error::Der(der::DerError::UnexpectedTag {
                expected: TAG_KRB_ERROR,
                got: TAG_AS_REQ
            }))
        );
        assert_eq!(
            extract_probe_reply(&[]),
            Err(Asn1Error::Der(der::DerError::Truncated))
        );
    }

    #[test]
    fn as_req_has_the_rfc_4120_layout() {
        let req = build_probe_as_req(&ProbeRequest {
            client: "iwagw-doctor-00ff",
            realm: "CORP.TEST",
            till: 1_795_000_000,
            nonce: 0x1234_5678,
        });
        // The reference codec reads it, and writes back the same octets.
        let parsed: picky_krb::messages::AsReq = picky_asn1_der::from_bytes(&req).unwrap();
        assert_eq!(picky_asn1_der::to_vec(&parsed).unwrap(), req);
        assert!(req.windows(17).any(|w| w == b"iwagw-doctor-00ff"));
        assert!(req
            .windows(6)
            .any(|w| w == [0x02, 0x04, 0x12, 0x34, 0x56, 0x78]));
        assert!(parsed.0.padata.0.is_none());
    }
}
