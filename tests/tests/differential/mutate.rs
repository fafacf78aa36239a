//! Systematic mutations of a valid token: bit flips per region, truncations, trailing garbage
//! (with and without fixing the enclosing lengths) and re-framing.

use kdc_bridge::proto::spnego::{build_krb5_token, build_neg_token_init, oid, TOK_ID_AP_REQ};

use super::layout::{tlv, Layout, Region};

/// One mutated token.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// The mutation class, a row of the summary table.
    pub class: String,
    /// What exactly was done, for failure messages.
    pub label: String,
    /// The region hit, for bit flips.
    pub region: Option<Region>,
    pub bytes: Vec<u8>,
}

impl Mutant {
    fn new(class: impl Into<String>, label: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            class: class.into(),
            label: label.into(),
            region: None,
            bytes,
        }
    }
}

/// How densely to flip: every byte of every region, or (for the 12 KB token) every header bit
/// but only every `cipher_stride`-th ciphertext byte plus the first and last blocks.
#[derive(Debug, Clone, Copy)]
pub struct Density {
    pub cipher_stride: usize,
}

/// Bit flips: all eight bits of every non-ciphertext byte; one bit (rotating) of every
/// ciphertext byte, or of a sample of them.
pub fn bit_flips(layout: &Layout, token: &[u8], density: Density) -> Vec<Mutant> {
    let mut out = Vec::new();
    let ciphers = [
        layout.ticket_cipher.contents(),
        layout.auth_cipher.contents(),
    ];
    for (pos, region) in layout.regions.iter().enumerate() {
        let bits: Vec<u8> = if region.is_cipher() {
            let range = ciphers
                .iter()
                .find(|r| r.contains(&pos))
                .expect("cipher byte in a cipher");
            let edge = pos < range.start + 32 || pos + 32 >= range.end;
            if edge || (pos - range.start) % density.cipher_stride == 0 {
                vec![(pos % 8) as u8]
            } else {
                continue;
            }
        } else {
            (0..8).collect()
        };
        for bit in bits {
            let mut bytes = token.to_vec();
            bytes[pos] ^= 1 << bit;
            out.push(Mutant {
                class: format!("flip {}", region.name()),
                label: format!("byte {pos} bit {bit}"),
                region: Some(*region),
                bytes,
            });
        }
    }
    out
}

/// Truncations: every length in the headers, a sample through the ciphertexts, every region
/// boundary, and the last few.
pub fn truncations(layout: &Layout, token: &[u8]) -> Vec<Mutant> {
    let len = token.len();
    let mut lengths: Vec<usize> = (0..len.min(160)).collect();
    lengths.extend((160..len).step_by(61));
    lengths.extend(len.saturating_sub(24)..len);
    for n in &layout.nodes {
        lengths.extend([n.start, n.content, n.end.min(len - 1)]);
    }
    lengths.sort_unstable();
    lengths.dedup();
    lengths
        .into_iter()
        .filter(|l| *l < len)
        .map(|l| {
            Mutant::new(
                "truncate",
                format!("first {l} of {len} octets"),
                token[..l].to_vec(),
            )
        })
        .collect()
}

/// Data after the end of the token, and extra fields inside it with the lengths fixed.
pub fn garbage(layout: &Layout, token: &[u8]) -> Vec<Mutant> {
    let mut out = Vec::new();
    for (what, tail) in [
        ("1 zero octet", &[0u8][..]),
        ("EOC 00 00", &[0, 0][..]),
        ("16 x ff", &[0xff; 16][..]),
        ("an empty SEQUENCE", &[0x30, 0][..]),
    ] {
        out.push(Mutant::new(
            "trailing garbage",
            format!("{what} after the token"),
            [token, tail].concat(),
        ));
    }
    let inside = [
        (
            layout.krb5_token,
            &[0x04, 0x02, 0xaa, 0xbb][..],
            "an OCTET STRING after the AP-REQ",
        ),
        (layout.krb5_token, &[0, 0][..], "EOC after the AP-REQ"),
        (
            layout.ap_req_seq,
            &[0xa5, 0x03, 0x02, 0x01, 0x00][..],
            "a field [5] in the AP-REQ",
        ),
        (
            layout.ticket_seq,
            &[0xa4, 0x03, 0x02, 0x01, 0x00][..],
            "a field [4] in the Ticket",
        ),
    ];
    for (parent, extra, what) in inside {
        out.push(Mutant::new(
            "inner garbage",
            format!("{what} (lengths fixed)"),
            layout.append_inside(token, &parent, extra),
        ));
    }
    if let Some(seq) = layout.neg_token_init {
        let mic = tlv(0xa3, &tlv(0x04, &[0xde, 0xad, 0xbe, 0xef]));
        out.push(Mutant::new(
            "inner garbage",
            "a bogus mechListMIC [3] in the NegTokenInit (lengths fixed)",
            layout.append_inside(token, &seq, &mic),
        ));
    }
    out
}

/// The same AP-REQ framed differently.
pub fn reframings(layout: &Layout, token: &[u8]) -> Vec<Mutant> {
    let ap_req = &token[layout.ap_req.whole()];
    let oid_tlv = |o: &[u8]| tlv(0x06, o);
    let mut out = vec![
        Mutant::new("reframe", "bare AP-REQ, no GSS framing", ap_req.to_vec()),
        Mutant::new(
            "reframe",
            "raw krb5 token",
            build_krb5_token(TOK_ID_AP_REQ, ap_req),
        ),
        Mutant::new(
            "reframe",
            "SPNEGO [krb5]",
            build_neg_token_init(&[oid::KRB5], ap_req),
        ),
        Mutant::new(
            "reframe",
            "SPNEGO [ms-krb5, krb5] as Windows sends",
            build_neg_token_init(&[oid::MS_KRB5, oid::KRB5], ap_req),
        ),
        Mutant::new(
            "reframe",
            "SPNEGO [ntlmssp, krb5] with a krb5 optimistic token",
            build_neg_token_init(&[oid::NTLMSSP, oid::KRB5], ap_req),
        ),
        Mutant::new(
            "reframe",
            "SPNEGO [krb5, ntlmssp]",
            build_neg_token_init(&[oid::KRB5, oid::NTLMSSP], ap_req),
        ),
        Mutant::new(
            "reframe",
            "SPNEGO [1.2.3.4, krb5]",
            build_neg_token_init(&[&[0x2a, 0x03, 0x04], oid::KRB5], ap_req),
        ),
    ];
    // The inner Kerberos token with Microsoft's OID instead of the standard one.
    let ms_inner = tlv(
        0x60,
        &[&oid_tlv(oid::MS_KRB5)[..], &TOK_ID_AP_REQ, ap_req].concat(),
    );
    out.push(Mutant::new(
        "reframe",
        "raw token with the ms-krb5 OID",
        ms_inner,
    ));
    // SPNEGO around a token that is the AP-REQ without its krb5 framing.
    let init = tlv(
        0xa0,
        &tlv(
            0x30,
            &[
                tlv(0xa0, &tlv(0x30, &oid_tlv(oid::KRB5))),
                tlv(0xa2, &tlv(0x04, ap_req)),
            ]
            .concat(),
        ),
    );
    out.push(Mutant::new(
        "reframe",
        "SPNEGO carrying a bare AP-REQ",
        tlv(0x60, &[&oid_tlv(oid::SPNEGO)[..], &init].concat()),
    ));
    out
}
