//! Builders for the messages a client or KDC makes: Ticket, EncTicketPart, Authenticator and
//! AP-REQ (RFC 4120 §5.3, §5.5.1).
//!
//! The acceptor never needs these. They exist for the bench's offline token minting (feature
//! `mint`, see `bench/`) and for tests that must control every field of a ticket.

use super::asn1::{integer, time, utag, wrap};
pub use super::messages::build_encryption_key;
use super::messages::{TAG_AP_REQ, TAG_AUTHENTICATOR, TAG_ENC_TICKET_PART, TAG_TICKET};
use crate::proto::der::{self, tag};

/// A name as it goes on the wire: name type and components.
#[derive(Debug, Clone, Copy)]
pub struct Name<'a> {
    /// `name-type`.
    pub name_type: i32,
    /// `name-string`.
    pub components: &'a [&'a str],
}

/// Encodes a `KerberosString`.
pub fn build_string(s: &str) -> Vec<u8> {
    der::tlv(utag::GENERAL_STRING, &[s.as_bytes()])
}

/// Encodes `KerberosFlags` from the first 32 flag bits.
pub fn build_flags(flags: u32) -> Vec<u8> {
    let b = flags.to_be_bytes();
    der::tlv(tag::BIT_STRING, &[&[0], &b])
}

/// Encodes a `PrincipalName`.
pub fn build_principal_name(name: Name<'_>) -> Vec<u8> {
    let strings: Vec<u8> = name
        .components
        .iter()
        .flat_map(|c| build_string(c))
        .collect();
    der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &integer(i64::from(name.name_type))),
            &wrap(1, &der::tlv(tag::SEQUENCE, &[&strings])),
        ],
    )
}

/// Encodes `EncryptedData`.
pub fn build_encrypted_data(etype: i32, kvno: Option<u32>, cipher: &[u8]) -> Vec<u8> {
    let mut fields = wrap(0, &integer(i64::from(etype)));
    if let Some(kvno) = kvno {
        fields.extend(wrap(1, &integer(i64::from(kvno))));
    }
    fields.extend(wrap(2, &der::tlv(tag::OCTET_STRING, &[cipher])));
    der::tlv(tag::SEQUENCE, &[&fields])
}

/// Encodes a `Checksum`.
pub fn build_checksum(cksumtype: i32, value: &[u8]) -> Vec<u8> {
    der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &integer(i64::from(cksumtype))),
            &wrap(1, &der::tlv(tag::OCTET_STRING, &[value])),
        ],
    )
}

/// Encodes `AuthorizationData ::= SEQUENCE OF SEQUENCE { ad-type [0] Int32, ad-data [1] OCTET
/// STRING }`.
pub fn build_authorization_data(entries: &[(i32, &[u8])]) -> Vec<u8> {
    let mut all = Vec::new();
    for (ad_type, data) in entries {
        all.extend(der::tlv(
            tag::SEQUENCE,
            &[
                &wrap(0, &integer(i64::from(*ad_type))),
                &wrap(1, &der::tlv(tag::OCTET_STRING, &[data])),
            ],
        ));
    }
    der::tlv(tag::SEQUENCE, &[&all])
}

/// The fields of an EncTicketPart that a minting tool chooses.
#[derive(Debug, Clone, Copy)]
pub struct EncTicketPartSpec<'a> {
    /// `flags`.
    pub flags: u32,
    /// `key`: keytype and value of the session key.
    pub session_key: (i32, &'a [u8]),
    /// `crealm`.
    pub crealm: &'a str,
    /// `cname`.
    pub cname: Name<'a>,
    /// `authtime`.
    pub authtime: i64,
    /// `starttime`.
    pub starttime: Option<i64>,
    /// `endtime`.
    pub endtime: i64,
    /// `renew-till`.
    pub renew_till: Option<i64>,
    /// `authorization-data`, already encoded (see [`build_authorization_data`]).
    pub authorization_data: Option<&'a [u8]>,
}

/// Encodes an `EncTicketPart` (the plaintext the KDC encrypts with key usage 2).
pub fn build_enc_ticket_part(spec: &EncTicketPartSpec<'_>) -> Vec<u8> {
    let (keytype, key) = spec.session_key;
    let transited = der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &integer(1)),
            &wrap(1, &der::tlv(tag::OCTET_STRING, &[])),
        ],
    );
    let mut f = Vec::with_capacity(256 + spec.authorization_data.map_or(0, <[u8]>::len));
    f.extend(wrap(0, &build_flags(spec.flags)));
    f.extend(wrap(1, &build_encryption_key(keytype, key)));
    f.extend(wrap(2, &build_string(spec.crealm)));
    f.extend(wrap(3, &build_principal_name(spec.cname)));
    f.extend(wrap(4, &transited));
    f.extend(wrap(5, &time(spec.authtime)));
    if let Some(t) = spec.starttime {
        f.extend(wrap(6, &time(t)));
    }
    f.extend(wrap(7, &time(spec.endtime)));
    if let Some(t) = spec.renew_till {
        f.extend(wrap(8, &time(t)));
    }
    if let Some(ad) = spec.authorization_data {
        f.extend(wrap(10, ad));
    }
    der::tlv(TAG_ENC_TICKET_PART, &[&der::tlv(tag::SEQUENCE, &[&f])])
}

/// Encodes a `Ticket` around an encrypted EncTicketPart.
pub fn build_ticket(
    realm: &str,
    sname: Name<'_>,
    etype: i32,
    kvno: Option<u32>,
    cipher: &[u8],
) -> Vec<u8> {
    let body = der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &integer(5)),
            &wrap(1, &build_string(realm)),
            &wrap(2, &build_principal_name(sname)),
            &wrap(3, &build_encrypted_data(etype, kvno, cipher)),
        ],
    );
    der::tlv(TAG_TICKET, &[&body])
}

/// The fields of an Authenticator that a client chooses.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatorSpec<'a> {
    /// `crealm`.
    pub crealm: &'a str,
    /// `cname`.
    pub cname: Name<'a>,
    /// `cksum`: type and value.
    pub cksum: Option<(i32, &'a [u8])>,
    /// `cusec`.
    pub cusec: u32,
    /// `ctime`.
    pub ctime: i64,
    /// `subkey`: keytype and value.
    pub subkey: Option<(i32, &'a [u8])>,
    /// `seq-number`.
    pub seq_number: Option<u32>,
}

/// Encodes an `Authenticator` (the plaintext encrypted with key usage 11).
pub fn build_authenticator(spec: &AuthenticatorSpec<'_>) -> Vec<u8> {
    let mut f = Vec::with_capacity(192);
    f.extend(wrap(0, &integer(5)));
    f.extend(wrap(1, &build_string(spec.crealm)));
    f.extend(wrap(2, &build_principal_name(spec.cname)));
    if let Some((t, v)) = spec.cksum {
        f.extend(wrap(3, &build_checksum(t, v)));
    }
    f.extend(wrap(4, &integer(i64::from(spec.cusec))));
    f.extend(wrap(5, &time(spec.ctime)));
    if let Some((t, v)) = spec.subkey {
        f.extend(wrap(6, &build_encryption_key(t, v)));
    }
    if let Some(seq) = spec.seq_number {
        f.extend(wrap(7, &integer(i64::from(seq))));
    }
    der::tlv(TAG_AUTHENTICATOR, &[&der::tlv(tag::SEQUENCE, &[&f])])
}

/// Encodes an `AP-REQ` from an encoded Ticket and an encrypted Authenticator.
pub fn build_ap_req(
    ap_options: u32,
    ticket: &[u8],
    auth_etype: i32,
    auth_cipher: &[u8],
) -> Vec<u8> {
    let body = der::tlv(
        tag::SEQUENCE,
        &[
            &wrap(0, &integer(5)),
            &wrap(1, &integer(14)),
            &wrap(2, &build_flags(ap_options)),
            &wrap(3, ticket),
            &wrap(4, &build_encrypted_data(auth_etype, None, auth_cipher)),
        ],
    );
    der::tlv(TAG_AP_REQ, &[&body])
}
