//! The Kerberos messages an acceptor reads (AP-REQ, Ticket, EncTicketPart, Authenticator) and
//! the one it writes (AP-REP), RFC 4120 §5.3, §5.5.
//!
//! Readers borrow from the input and reject trailing data at every level. `extract_*` parses
//! incoming data; `build_*` makes outgoing messages.

use super::asn1::{
    explicit, explicit_optional, in_explicit, integer, read_flags, read_i32, read_integer,
    read_microseconds, read_string, read_time, read_u32, sequence, time, wrap, Asn1Error,
};
use crate::proto::der::{self, tag, Reader};
use crate::proto::principal::{Principal, MAX_COMPONENTS};

/// `[APPLICATION 1]` Ticket.
pub const TAG_TICKET: u8 = 0x61;
/// `[APPLICATION 2]` Authenticator.
pub const TAG_AUTHENTICATOR: u8 = 0x62;
/// `[APPLICATION 3]` EncTicketPart.
pub const TAG_ENC_TICKET_PART: u8 = 0x63;
/// `[APPLICATION 14]` AP-REQ.
pub const TAG_AP_REQ: u8 = 0x6e;
/// `[APPLICATION 15]` AP-REP.
pub const TAG_AP_REP: u8 = 0x6f;
/// `[APPLICATION 27]` EncAPRepPart.
pub const TAG_ENC_AP_REP_PART: u8 = 0x7b;

/// `pvno` and `tkt-vno`/`authenticator-vno`: Kerberos 5.
const KRB5_PVNO: i64 = 5;
/// `msg-type` of KRB_AP_REQ.
const MSG_TYPE_AP_REQ: i64 = 14;
/// `msg-type` of KRB_AP_REP.
const MSG_TYPE_AP_REP: i64 = 15;

/// RFC 4120 §5.5.1 `APOptions` bits (bit 0 is the most significant bit of our `u32`).
pub mod ap_options {
    /// use-session-key(1): user-to-user, the ticket is encrypted in a TGT session key.
    pub const USE_SESSION_KEY: u32 = 0x4000_0000;
    /// mutual-required(2): the client wants an AP-REP.
    pub const MUTUAL_REQUIRED: u32 = 0x2000_0000;
}

/// RFC 4120 §5.3 `TicketFlags` bits the acceptor looks at.
pub mod ticket_flags {
    /// invalid(7): a postdated ticket that the KDC has not validated yet.
    pub const INVALID: u32 = 0x0100_0000;
}

/// ```text
/// PrincipalName   ::= SEQUENCE {
///         name-type       [0] Int32,
///         name-string     [1] SEQUENCE OF KerberosString
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalName<'a> {
    /// `name-type`.
    pub name_type: i32,
    /// `name-string`, at most [`MAX_COMPONENTS`] of them.
    pub components: Vec<&'a str>,
}

impl PrincipalName<'_> {
    /// The owned principal in `realm`.
    pub fn to_principal(&self, realm: &str) -> Principal {
        Principal::new(
            self.name_type,
            self.components.iter().map(|c| (*c).to_owned()).collect(),
            realm.to_owned(),
        )
    }
}

/// ```text
/// EncryptedData   ::= SEQUENCE {
///         etype   [0] Int32 -- EncryptionType --,
///         kvno    [1] UInt32 OPTIONAL,
///         cipher  [2] OCTET STRING -- ciphertext
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedData<'a> {
    /// `etype`.
    pub etype: i32,
    /// `kvno`.
    pub kvno: Option<u32>,
    /// `cipher`.
    pub cipher: &'a [u8],
}

/// ```text
/// EncryptionKey   ::= SEQUENCE {
///         keytype         [0] Int32 -- actually encryption type --,
///         keyvalue        [1] OCTET STRING
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncryptionKey<'a> {
    /// `keytype`.
    pub keytype: i32,
    /// `keyvalue`.
    pub value: &'a [u8],
}

impl std::fmt::Debug for EncryptionKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("keytype", &self.keytype)
            .finish_non_exhaustive()
    }
}

/// ```text
/// Checksum        ::= SEQUENCE {
///         cksumtype       [0] Int32,
///         checksum        [1] OCTET STRING
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum<'a> {
    /// `cksumtype`.
    pub cksumtype: i32,
    /// `checksum`.
    pub value: &'a [u8],
}

/// ```text
/// Ticket          ::= [APPLICATION 1] SEQUENCE {
///         tkt-vno         [0] INTEGER (5),
///         realm           [1] Realm,
///         sname           [2] PrincipalName,
///         enc-part        [3] EncryptedData -- EncTicketPart
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket<'a> {
    /// `realm`: the service's realm.
    pub realm: &'a str,
    /// `sname`: the service principal the ticket is for.
    pub sname: PrincipalName<'a>,
    /// `enc-part`, encrypted in the service key (key usage 2).
    pub enc_part: EncryptedData<'a>,
}

/// ```text
/// AP-REQ          ::= [APPLICATION 14] SEQUENCE {
///         pvno            [0] INTEGER (5),
///         msg-type        [1] INTEGER (14),
///         ap-options      [2] APOptions,
///         ticket          [3] Ticket,
///         authenticator   [4] EncryptedData -- Authenticator
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApReq<'a> {
    /// `ap-options`, see [`ap_options`].
    pub ap_options: u32,
    /// `ticket`.
    pub ticket: Ticket<'a>,
    /// `authenticator`, encrypted in the ticket session key (key usage 11).
    pub authenticator: EncryptedData<'a>,
}

/// ```text
/// EncTicketPart   ::= [APPLICATION 3] SEQUENCE {
///         flags                   [0] TicketFlags,
///         key                     [1] EncryptionKey,
///         crealm                  [2] Realm,
///         cname                   [3] PrincipalName,
///         transited               [4] TransitedEncoding,
///         authtime                [5] KerberosTime,
///         starttime               [6] KerberosTime OPTIONAL,
///         endtime                 [7] KerberosTime,
///         renew-till              [8] KerberosTime OPTIONAL,
///         caddr                   [9] HostAddresses OPTIONAL,
///         authorization-data      [10] AuthorizationData OPTIONAL
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncTicketPart<'a> {
    /// `flags`, see [`ticket_flags`].
    pub flags: u32,
    /// `key`: the session key.
    pub key: EncryptionKey<'a>,
    /// `crealm`.
    pub crealm: &'a str,
    /// `cname`.
    pub cname: PrincipalName<'a>,
    /// `authtime`, Unix seconds.
    pub authtime: i64,
    /// `starttime`, Unix seconds.
    pub starttime: Option<i64>,
    /// `endtime`, Unix seconds.
    pub endtime: i64,
    /// `renew-till`, Unix seconds.
    pub renew_till: Option<i64>,
    /// `caddr`, the DER of the HostAddresses (AD leaves it out).
    pub caddr: Option<&'a [u8]>,
    /// `authorization-data`, the DER of the AuthorizationData (the PAC lives here).
    pub authorization_data: Option<&'a [u8]>,
}

/// ```text
/// Authenticator   ::= [APPLICATION 2] SEQUENCE  {
///         authenticator-vno       [0] INTEGER (5),
///         crealm                  [1] Realm,
///         cname                   [2] PrincipalName,
///         cksum                   [3] Checksum OPTIONAL,
///         cusec                   [4] Microseconds,
///         ctime                   [5] KerberosTime,
///         subkey                  [6] EncryptionKey OPTIONAL,
///         seq-number              [7] UInt32 OPTIONAL,
///         authorization-data      [8] AuthorizationData OPTIONAL
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticator<'a> {
    /// `crealm`.
    pub crealm: &'a str,
    /// `cname`.
    pub cname: PrincipalName<'a>,
    /// `cksum`: for GSS-API, the RFC 4121 §4.1.1 checksum of type 0x8003.
    pub cksum: Option<Checksum<'a>>,
    /// `cusec`.
    pub cusec: u32,
    /// `ctime`, Unix seconds.
    pub ctime: i64,
    /// `subkey`.
    pub subkey: Option<EncryptionKey<'a>>,
    /// `seq-number`. Negative encodings (old MIT, Java) are read as their two's complement,
    /// as RFC 4120 §5.3 asks.
    pub seq_number: Option<u32>,
    /// `authorization-data`, raw DER.
    pub authorization_data: Option<&'a [u8]>,
}

fn expect_value(got: i64, expected: i64) -> Result<(), Asn1Error> {
    if got == expected {
        Ok(())
    } else {
        Err(Asn1Error::BadValue)
    }
}

fn read_principal_name<'a>(r: &mut Reader<'a>) -> Result<PrincipalName<'a>, Asn1Error> {
    sequence(r, tag::SEQUENCE, |s| {
        let name_type = in_explicit(explicit(s, 0)?, read_i32)?;
        let components = in_explicit(explicit(s, 1)?, |inner| {
            sequence(inner, tag::SEQUENCE, |names| {
                let mut out = Vec::new();
                while !names.is_empty() {
                    if out.len() == MAX_COMPONENTS {
                        return Err(Asn1Error::BadValue);
                    }
                    out.push(read_string(names)?);
                }
                Ok(out)
            })
        })?;
        if components.is_empty() {
            return Err(Asn1Error::BadValue);
        }
        Ok(PrincipalName {
            name_type,
            components,
        })
    })
}

fn read_encrypted_data<'a>(r: &mut Reader<'a>) -> Result<EncryptedData<'a>, Asn1Error> {
    sequence(r, tag::SEQUENCE, |s| {
        let etype = in_explicit(explicit(s, 0)?, read_i32)?;
        let kvno = explicit_optional(s, 1)?
            .map(|e| in_explicit(e, read_u32))
            .transpose()?;
        let cipher = in_explicit(explicit(s, 2)?, |c| Ok(c.read(tag::OCTET_STRING)?.value))?;
        Ok(EncryptedData {
            etype,
            kvno,
            cipher,
        })
    })
}

fn read_encryption_key<'a>(r: &mut Reader<'a>) -> Result<EncryptionKey<'a>, Asn1Error> {
    sequence(r, tag::SEQUENCE, |s| {
        let keytype = in_explicit(explicit(s, 0)?, read_i32)?;
        let value = in_explicit(explicit(s, 1)?, |c| Ok(c.read(tag::OCTET_STRING)?.value))?;
        Ok(EncryptionKey { keytype, value })
    })
}

fn read_checksum<'a>(r: &mut Reader<'a>) -> Result<Checksum<'a>, Asn1Error> {
    sequence(r, tag::SEQUENCE, |s| {
        let cksumtype = in_explicit(explicit(s, 0)?, read_i32)?;
        let value = in_explicit(explicit(s, 1)?, |c| Ok(c.read(tag::OCTET_STRING)?.value))?;
        Ok(Checksum { cksumtype, value })
    })
}

/// Reads a SEQUENCE (AuthorizationData, HostAddresses…) without looking inside, returning
/// its whole encoding.
fn read_raw_sequence<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Asn1Error> {
    Ok(r.read(tag::SEQUENCE)?.raw)
}

fn read_ticket<'a>(r: &mut Reader<'a>) -> Result<Ticket<'a>, Asn1Error> {
    sequence(r, TAG_TICKET, |app| {
        sequence(app, tag::SEQUENCE, |s| {
            expect_value(in_explicit(explicit(s, 0)?, read_integer)?, KRB5_PVNO)?;
            let realm = in_explicit(explicit(s, 1)?, read_string)?;
            let sname = in_explicit(explicit(s, 2)?, read_principal_name)?;
            let enc_part = in_explicit(explicit(s, 3)?, read_encrypted_data)?;
            Ok(Ticket {
                realm,
                sname,
                enc_part,
            })
        })
    })
}

/// Parses a whole AP-REQ; `buf` must hold exactly one.
pub fn extract_ap_req(buf: &[u8]) -> Result<ApReq<'_>, Asn1Error> {
    let mut r = Reader::new(buf);
    let out = sequence(&mut r, TAG_AP_REQ, |app| {
        sequence(app, tag::SEQUENCE, |s| {
            expect_value(in_explicit(explicit(s, 0)?, read_integer)?, KRB5_PVNO)?;
            expect_value(in_explicit(explicit(s, 1)?, read_integer)?, MSG_TYPE_AP_REQ)?;
            let ap_options = in_explicit(explicit(s, 2)?, read_flags)?;
            let ticket = in_explicit(explicit(s, 3)?, read_ticket)?;
            let authenticator = in_explicit(explicit(s, 4)?, read_encrypted_data)?;
            Ok(ApReq {
                ap_options,
                ticket,
                authenticator,
            })
        })
    })?;
    r.finish()?;
    Ok(out)
}

/// Parses a decrypted EncTicketPart. Trailing octets are tolerated because some encryption
/// layers pad the plaintext (RFC 3961 §5.3 allows it for block ciphers without CTS).
pub fn extract_enc_ticket_part(buf: &[u8]) -> Result<EncTicketPart<'_>, Asn1Error> {
    let mut r = Reader::new(buf);
    sequence(&mut r, TAG_ENC_TICKET_PART, |app| {
        sequence(app, tag::SEQUENCE, |s| {
            let flags = in_explicit(explicit(s, 0)?, read_flags)?;
            let key = in_explicit(explicit(s, 1)?, read_encryption_key)?;
            let crealm = in_explicit(explicit(s, 2)?, read_string)?;
            let cname = in_explicit(explicit(s, 3)?, read_principal_name)?;
            // transited: only meaningful for cross-realm policy, which AD enforces itself.
            in_explicit(explicit(s, 4)?, read_raw_sequence)?;
            let authtime = in_explicit(explicit(s, 5)?, read_time)?;
            let starttime = explicit_optional(s, 6)?
                .map(|e| in_explicit(e, read_time))
                .transpose()?;
            let endtime = in_explicit(explicit(s, 7)?, read_time)?;
            let renew_till = explicit_optional(s, 8)?
                .map(|e| in_explicit(e, read_time))
                .transpose()?;
            let caddr = explicit_optional(s, 9)?
                .map(|e| in_explicit(e, read_raw_sequence))
                .transpose()?;
            let authorization_data = explicit_optional(s, 10)?
                .map(|e| in_explicit(e, read_raw_sequence))
                .transpose()?;
            Ok(EncTicketPart {
                flags,
                key,
                crealm,
                cname,
                authtime,
                starttime,
                endtime,
                renew_till,
                caddr,
                authorization_data,
            })
        })
    })
}

/// Parses a decrypted Authenticator (trailing octets tolerated, as for the ticket).
pub fn extract_authenticator(buf: &[u8]) -> Result<Authenticator<'_>, Asn1Error> {
    let mut r = Reader::new(buf);
    sequence(&mut r, TAG_AUTHENTICATOR, |app| {
        sequence(app, tag::SEQUENCE, |s| {
            expect_value(in_explicit(explicit(s, 0)?, read_integer)?, KRB5_PVNO)?;
            let crealm = in_explicit(explicit(s, 1)?, read_string)?;
            let cname = in_explicit(explicit(s, 2)?, read_principal_name)?;
            let cksum = explicit_optional(s, 3)?
                .map(|e| in_explicit(e, read_checksum))
                .transpose()?;
            let cusec = in_explicit(explicit(s, 4)?, read_microseconds)?;
            let ctime = in_explicit(explicit(s, 5)?, read_time)?;
            let subkey = explicit_optional(s, 6)?
                .map(|e| in_explicit(e, read_encryption_key))
                .transpose()?;
            let seq_number = explicit_optional(s, 7)?
                .map(|e| {
                    in_explicit(e, |r| {
                        let n = read_integer(r)?;
                        if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&n) {
                            // In range by the check above: negative values wrap to their
                            // 32-bit two's complement.
                            Ok(n as u32)
                        } else {
                            Err(Asn1Error::BadInteger)
                        }
                    })
                })
                .transpose()?;
            let authorization_data = explicit_optional(s, 8)?
                .map(|e| in_explicit(e, read_raw_sequence))
                .transpose()?;
            Ok(Authenticator {
                crealm,
                cname,
                cksum,
                cusec,
                ctime,
                subkey,
                seq_number,
                authorization_data,
            })
        })
    })
}

/// The plaintext of an AP-REP's enc-part.
///
/// ```text
/// EncAPRepPart    ::= [APPLICATION 27] SEQUENCE {
///         ctime           [0] KerberosTime,
///         cusec           [1] Microseconds,
///         subkey          [2] EncryptionKey OPTIONAL,
///         seq-number      [3] UInt32 OPTIONAL
/// }
/// ```
pub fn build_enc_ap_rep_part(
    ctime: i64,
    cusec: u32,
    subkey: Option<(i32, &[u8])>,
    seq: Option<u32>,
) -> Vec<u8> {
    let mut fields = Vec::with_capacity(96);
    fields.extend(wrap(0, &time(ctime)));
    fields.extend(wrap(1, &integer(i64::from(cusec))));
    if let Some((keytype, value)) = subkey {
        fields.extend(wrap(2, &build_encryption_key(keytype, value)));
    }
    if let Some(seq) = seq {
        fields.extend(wrap(3, &integer(i64::from(seq))));
    }
    der::tlv(TAG_ENC_AP_REP_PART, &[&der::tlv(tag::SEQUENCE, &[&fields])])
}

/// Encodes an `EncryptionKey` (see [`EncryptionKey`] for the ASN.1).
pub fn build_encryption_key(keytype: i32, value: &[u8]) -> Vec<u8> {
    let t = wrap(0, &integer(i64::from(keytype)));
    let v = wrap(1, &der::tlv(tag::OCTET_STRING, &[value]));
    der::tlv(tag::SEQUENCE, &[&t, &v])
}

/// An AP-REP around an already encrypted EncAPRepPart (key usage 12).
///
/// ```text
/// AP-REP          ::= [APPLICATION 15] SEQUENCE {
///         pvno            [0] INTEGER (5),
///         msg-type        [1] INTEGER (15),
///         enc-part        [2] EncryptedData -- EncAPRepPart
/// }
/// ```
pub fn build_ap_rep(etype: i32, cipher: &[u8]) -> Vec<u8> {
    let enc = der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &integer(i64::from(etype))),
            &wrap(2, &der::tlv(tag::OCTET_STRING, &[cipher])),
        ],
    );
    let body = der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &integer(KRB5_PVNO)),
            &wrap(1, &integer(MSG_TYPE_AP_REP)),
            &wrap(2, &enc),
        ],
    );
    der::tlv(TAG_AP_REP, &[&body])
}

#[cfg(test)]
#[path = "messages_test.rs"]
mod tests;
