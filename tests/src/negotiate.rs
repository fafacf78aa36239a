//! Negotiate tokens: fresh ones from the project's MIT client (`iwa-negotiate tokens`), and the
//! ticket inside one, to tamper with.

use std::ops::Range;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::ad::Ccache;
use crate::process::{e2e_bin, run, stderr_of};

/// The NTLM NEGOTIATE_MESSAGE a browser sends in `Negotiate` when Kerberos is not available.
pub const NTLM_NEGOTIATE: &str = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAFASgKAAAADw==";

/// `iwa-negotiate tokens`: `count` fresh base64 tokens for `service`, each from a new context.
pub fn tokens(ccache: &Ccache, service: &str, count: usize, raw: bool) -> Vec<String> {
    make_tokens(ccache, service, count, raw, None)
}

/// Like [`tokens`], bound to a channel: `application_data` as in
/// [`tls_server_end_point`](crate::tls_server_end_point).
pub fn bound_tokens(
    ccache: &Ccache,
    service: &str,
    count: usize,
    application_data: &[u8],
) -> Vec<String> {
    make_tokens(ccache, service, count, false, Some(application_data))
}

fn make_tokens(
    ccache: &Ccache,
    service: &str,
    count: usize,
    raw: bool,
    channel_binding: Option<&[u8]>,
) -> Vec<String> {
    let mut cmd = Command::new(e2e_bin("iwa-negotiate"));
    cmd.args(["tokens", "--spn", service, "--count", &count.to_string()]);
    if raw {
        cmd.arg("--raw");
    }
    if let Some(cb) = channel_binding {
        cmd.arg("--channel-binding").arg(STANDARD.encode(cb));
    }
    ccache.apply(&mut cmd);
    let out = run(cmd, "iwa-negotiate tokens");
    assert!(
        out.status.success(),
        "iwa-negotiate tokens failed: {}",
        stderr_of(&out)
    );
    let tokens: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tokens.len(), count, "iwa-negotiate printed {tokens:?}");
    tokens
}

// ------------------------------------------------------------------------------------ tokens --

/// Decodes a base64 token.
pub fn decode_token(b64: &str) -> Vec<u8> {
    STANDARD.decode(b64.trim()).expect("a base64 token")
}

/// Encodes a token in base64.
pub fn encode_token(token: &[u8]) -> String {
    STANDARD.encode(token)
}

/// One DER element: its tag and the range of its contents in the buffer.
fn der_at(buf: &[u8], pos: usize) -> Option<(u8, Range<usize>)> {
    let tag = *buf.get(pos)?;
    let first = *buf.get(pos + 1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), pos + 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*buf.get(pos + 2 + i)?);
        }
        (len, pos + 2 + n)
    };
    let end = start.checked_add(len)?;
    (end <= buf.len()).then_some((tag, start..end))
}

/// The contents of the first element tagged `tag` among the elements filling `within`.
fn der_child(buf: &[u8], within: Range<usize>, tag: u8) -> Option<Range<usize>> {
    let mut pos = within.start;
    while pos < within.end {
        let (t, r) = der_at(buf, pos)?;
        if t == tag {
            return Some(r);
        }
        pos = r.end;
    }
    None
}

/// OID 1.3.6.1.5.5.2 (SPNEGO), contents octets.
const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/// Where the ticket's `enc-part` cipher text sits in a Negotiate token (SPNEGO NegTokenInit
/// or a raw krb5 token): RFC 4178 §4.2.1 `mechToken`, RFC 4121 §4.1 `TOK_ID 01 00`, RFC 4120
/// §5.5.1 `AP-REQ ::= [APPLICATION 14] SEQUENCE { …, ticket [3] Ticket, … }`, §5.3
/// `Ticket ::= [APPLICATION 1] SEQUENCE { …, enc-part [3] EncryptedData }`, `EncryptedData ::=
/// SEQUENCE { etype [0], kvno [1] OPTIONAL, cipher [2] OCTET STRING }`.
pub fn ticket_cipher_range(token: &[u8]) -> Option<Range<usize>> {
    let gss = der_child(token, 0..token.len(), 0x60)?;
    let (oid_tag, oid) = der_at(token, gss.start)?;
    if oid_tag != 0x06 {
        return None;
    }
    let krb5_token = if token.get(oid.clone())? == SPNEGO_OID {
        let init = der_child(token, oid.end..gss.end, 0xa0)?;
        let seq = der_child(token, init, 0x30)?;
        let mech_token = der_child(token, seq, 0xa2)?;
        let octets = der_child(token, mech_token, 0x04)?;
        der_child(token, octets, 0x60)?
    } else {
        gss
    };
    let (_, krb5_oid) = der_at(token, krb5_token.start)?;
    // Two octets of TOK_ID (01 00 = AP-REQ) follow the mechanism OID.
    let ap_req = der_child(token, krb5_oid.end + 2..krb5_token.end, 0x6e)?;
    let ap_seq = der_child(token, ap_req, 0x30)?;
    let ticket_field = der_child(token, ap_seq, 0xa3)?;
    let ticket = der_child(token, ticket_field, 0x61)?;
    let ticket_seq = der_child(token, ticket, 0x30)?;
    let enc_part = der_child(token, ticket_seq, 0xa3)?;
    let enc_seq = der_child(token, enc_part, 0x30)?;
    let cipher_field = der_child(token, enc_seq, 0xa2)?;
    der_child(token, cipher_field, 0x04)
}

/// The token with one bit flipped in the middle of the ticket's cipher text.
pub fn tamper_ticket_cipher(token: &[u8]) -> Vec<u8> {
    let range = ticket_cipher_range(token).expect("a Kerberos AP-REQ inside the token");
    let mid = range.start + range.len() / 2;
    let mut out = token.to_vec();
    out[mid] ^= 0x01;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_ticket_cipher() {
        // 60 len { 06 <krb5 oid> 01 00 6e { 30 { a3 { 61 { 30 { a3 { 30 { a2 { 04 {c0 c1 c2} } } } } } } } } }
        let krb5_oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
        ];
        let cipher = [0x04, 0x03, 0xc0, 0xc1, 0xc2];
        let wrap = |tag: u8, inner: &[u8]| {
            let mut v = vec![tag, u8::try_from(inner.len()).unwrap()];
            v.extend_from_slice(inner);
            v
        };
        let enc = wrap(0x30, &wrap(0xa2, &cipher));
        let ticket = wrap(0x61, &wrap(0x30, &wrap(0xa3, &enc)));
        let ap_req = wrap(0x6e, &wrap(0x30, &wrap(0xa3, &ticket)));
        let mut inner = krb5_oid.to_vec();
        inner.extend_from_slice(&[0x01, 0x00]);
        inner.extend_from_slice(&ap_req);
        let token = wrap(0x60, &inner);
        let range = ticket_cipher_range(&token).unwrap();
        assert_eq!(&token[range], &[0xc0, 0xc1, 0xc2]);
        let tampered = tamper_ticket_cipher(&token);
        assert_eq!(tampered.len(), token.len());
        assert_eq!(
            tampered.iter().zip(&token).filter(|(a, b)| a != b).count(),
            1
        );
    }
}
