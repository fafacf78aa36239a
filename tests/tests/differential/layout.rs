//! Where things are in a client token: a small DER walker that maps every byte of a SPNEGO or
//! raw Kerberos token to the region it belongs to, and rebuilds lengths after an edit.
//!
//! Independent of kdc-bridge's parser on purpose: the mutations must not share its bugs.

use std::ops::Range;

/// One TLV: its identifier octet and where its header, contents and end are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u8,
    pub start: usize,
    pub content: usize,
    pub end: usize,
}

impl Tlv {
    pub fn header(&self) -> Range<usize> {
        self.start..self.content
    }

    pub fn contents(&self) -> Range<usize> {
        self.content..self.end
    }

    pub fn whole(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// Reads the TLV at `at` (definite lengths, up to four length octets).
pub fn read_tlv(buf: &[u8], at: usize) -> Option<Tlv> {
    let tag = *buf.get(at)?;
    let first = *buf.get(at + 1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = buf.get(at + 2..at + 2 + n)?;
        (
            bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
            2 + n,
        )
    };
    let end = at.checked_add(header)?.checked_add(len)?;
    (end <= buf.len()).then_some(Tlv {
        tag,
        start: at,
        content: at + header,
        end,
    })
}

/// The TLVs inside `parent`'s contents, in order (stops at the first that does not parse).
pub fn children(buf: &[u8], parent: &Tlv) -> Vec<Tlv> {
    let mut out = Vec::new();
    let mut at = parent.content;
    while at < parent.end {
        let Some(t) = read_tlv(&buf[..parent.end], at) else {
            break;
        };
        at = t.end;
        out.push(t);
    }
    out
}

/// DER encoding of `contents` under `tag` (minimal length octets).
pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// The parts of a token the mutations aim at. Listed in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Region {
    /// The outer `[APPLICATION 0]` header and the SPNEGO OID.
    SpnegoFraming,
    /// NegTokenInit `[0]` and SEQUENCE headers, reqFlags.
    NegTokenInit,
    /// `mechTypes [0] MechTypeList`.
    MechList,
    /// `mechToken [2] OCTET STRING` headers.
    MechTokenHeader,
    /// The Kerberos `[APPLICATION 0]` header, the Kerberos OID and TOK_ID.
    Krb5Framing,
    /// AP-REQ `[APPLICATION 14]`, pvno, msg-type, ap-options, the `[3]` ticket header.
    ApReqHeader,
    /// Ticket `[APPLICATION 1]`, SEQUENCE, tkt-vno.
    TicketHeader,
    /// Ticket `realm`.
    TicketRealm,
    /// Ticket `sname`.
    TicketSname,
    /// Ticket enc-part headers: etype, kvno, the cipher's OCTET STRING header.
    TicketEncHeader,
    /// Ticket enc-part ciphertext.
    TicketCipher,
    /// Authenticator EncryptedData headers: `[4]`, etype, kvno, OCTET STRING header.
    AuthHeader,
    /// Authenticator ciphertext.
    AuthCipher,
    /// Anything else (mechListMIC…).
    Other,
}

impl Region {
    pub fn name(self) -> &'static str {
        match self {
            Self::SpnegoFraming => "spnego-framing",
            Self::NegTokenInit => "negtokeninit",
            Self::MechList => "mech-list",
            Self::MechTokenHeader => "mech-token-hdr",
            Self::Krb5Framing => "krb5-oid/tok-id",
            Self::ApReqHeader => "ap-req-header",
            Self::TicketHeader => "ticket-header",
            Self::TicketRealm => "ticket-realm",
            Self::TicketSname => "ticket-sname",
            Self::TicketEncHeader => "ticket-etype/kvno",
            Self::TicketCipher => "ticket-cipher",
            Self::AuthHeader => "auth-header",
            Self::AuthCipher => "auth-cipher",
            Self::Other => "other",
        }
    }

    /// Ciphertext regions: sampled for large tokens instead of flipping all 8 bits per byte.
    pub fn is_cipher(self) -> bool {
        matches!(self, Self::TicketCipher | Self::AuthCipher)
    }
}

/// A parsed client token.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Every TLV walked, outermost first.
    pub nodes: Vec<Tlv>,
    /// The region of every byte.
    pub regions: Vec<Region>,
    /// The NegTokenInit SEQUENCE.
    pub neg_token_init: Option<Tlv>,
    /// The Kerberos `[APPLICATION 0]` token.
    pub krb5_token: Tlv,
    pub ap_req: Tlv,
    pub ap_req_seq: Tlv,
    pub ap_options: Tlv,
    pub ticket_seq: Tlv,
    pub realm: Tlv,
    pub sname: Tlv,
    pub ticket_etype: Tlv,
    pub ticket_kvno: Option<Tlv>,
    pub ticket_cipher: Tlv,
    pub auth_cipher: Tlv,
}

fn child(buf: &[u8], parent: &Tlv, tag: u8) -> Result<Tlv, String> {
    children(buf, parent)
        .into_iter()
        .find(|t| t.tag == tag)
        .ok_or_else(|| format!("no tag {tag:#04x} in the TLV at {}", parent.start))
}

fn single(buf: &[u8], parent: &Tlv) -> Result<Tlv, String> {
    read_tlv(&buf[..parent.end], parent.content)
        .ok_or_else(|| format!("nothing inside the TLV at {}", parent.start))
}

impl Layout {
    /// Walks an unmodified token as MIT's client makes them.
    pub fn parse(buf: &[u8]) -> Result<Self, String> {
        let mut nodes = Vec::new();
        let mut regions = vec![Region::Other; buf.len()];
        let mut mark = |r: Range<usize>, region: Region| {
            for b in &mut regions[r] {
                *b = region;
            }
        };
        let outer = read_tlv(buf, 0).ok_or("no outer TLV")?;
        nodes.push(outer);
        let oid = single(buf, &outer)?;
        let spnego = buf[oid.contents()] == [0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
        let mut neg_token_init = None;
        let krb5_token = if spnego {
            mark(outer.header(), Region::SpnegoFraming);
            mark(oid.whole(), Region::SpnegoFraming);
            let init = read_tlv(&buf[..outer.end], oid.end).ok_or("no NegTokenInit")?;
            let seq = single(buf, &init)?;
            mark(init.header(), Region::NegTokenInit);
            mark(seq.header(), Region::NegTokenInit);
            nodes.extend([init, seq]);
            neg_token_init = Some(seq);
            for field in children(buf, &seq) {
                match field.tag {
                    0xa0 => {
                        mark(field.whole(), Region::MechList);
                    }
                    0xa1 => mark(field.whole(), Region::NegTokenInit),
                    0xa2 => {}
                    _ => mark(field.whole(), Region::Other),
                }
            }
            let tok = child(buf, &seq, 0xa2)?;
            let octets = single(buf, &tok)?;
            mark(tok.header(), Region::MechTokenHeader);
            mark(octets.header(), Region::MechTokenHeader);
            nodes.extend([tok, octets]);
            single(buf, &octets)?
        } else {
            outer
        };
        if spnego {
            nodes.push(krb5_token);
        }
        let krb5_oid = single(buf, &krb5_token)?;
        mark(krb5_token.header(), Region::Krb5Framing);
        mark(krb5_oid.start..krb5_oid.end + 2, Region::Krb5Framing);
        let ap_req = read_tlv(&buf[..krb5_token.end], krb5_oid.end + 2).ok_or("no AP-REQ")?;
        let ap_req_seq = single(buf, &ap_req)?;
        mark(ap_req.header(), Region::ApReqHeader);
        mark(ap_req_seq.header(), Region::ApReqHeader);
        nodes.extend([ap_req, ap_req_seq]);
        for tag in [0xa0, 0xa1, 0xa2] {
            mark(child(buf, &ap_req_seq, tag)?.whole(), Region::ApReqHeader);
        }
        let ap_options_field = child(buf, &ap_req_seq, 0xa2)?;
        let ap_options = single(buf, &ap_options_field)?;
        nodes.extend([ap_options_field, ap_options]);

        let ticket_field = child(buf, &ap_req_seq, 0xa3)?;
        let ticket = single(buf, &ticket_field)?;
        let ticket_seq = single(buf, &ticket)?;
        mark(ticket_field.header(), Region::ApReqHeader);
        mark(ticket.header(), Region::TicketHeader);
        mark(ticket_seq.header(), Region::TicketHeader);
        nodes.extend([ticket_field, ticket, ticket_seq]);
        mark(child(buf, &ticket_seq, 0xa0)?.whole(), Region::TicketHeader);
        let realm_field = child(buf, &ticket_seq, 0xa1)?;
        let sname_field = child(buf, &ticket_seq, 0xa2)?;
        mark(realm_field.whole(), Region::TicketRealm);
        mark(sname_field.whole(), Region::TicketSname);
        let realm = single(buf, &realm_field)?;
        let sname = single(buf, &sname_field)?;
        nodes.extend([realm_field, realm, sname_field, sname]);
        let (enc_nodes, ticket_etype, ticket_kvno, ticket_cipher) =
            encrypted_data(buf, &child(buf, &ticket_seq, 0xa3)?)?;
        for n in &enc_nodes {
            mark(n.header(), Region::TicketEncHeader);
        }
        mark(ticket_etype.whole(), Region::TicketEncHeader);
        if let Some(k) = ticket_kvno {
            mark(k.whole(), Region::TicketEncHeader);
        }
        mark(ticket_cipher.header(), Region::TicketEncHeader);
        mark(ticket_cipher.contents(), Region::TicketCipher);
        nodes.extend(enc_nodes);
        nodes.push(ticket_cipher);

        let (enc_nodes, auth_etype, auth_kvno, auth_cipher) =
            encrypted_data(buf, &child(buf, &ap_req_seq, 0xa4)?)?;
        for n in &enc_nodes {
            mark(n.header(), Region::AuthHeader);
        }
        mark(auth_etype.whole(), Region::AuthHeader);
        if let Some(k) = auth_kvno {
            mark(k.whole(), Region::AuthHeader);
        }
        mark(auth_cipher.header(), Region::AuthHeader);
        mark(auth_cipher.contents(), Region::AuthCipher);
        nodes.extend(enc_nodes);
        nodes.push(auth_cipher);

        Ok(Self {
            nodes,
            regions,
            neg_token_init,
            krb5_token,
            ap_req,
            ap_req_seq,
            ap_options,
            ticket_seq,
            realm,
            sname,
            ticket_etype,
            ticket_kvno,
            ticket_cipher,
            auth_cipher,
        })
    }

    /// The walked TLVs whose contents enclose `range`, outermost first. A TLV whose whole
    /// encoding is `range` is not among them (its header starts before the contents).
    pub fn enclosing(&self, range: &Range<usize>) -> Vec<Tlv> {
        let mut out: Vec<Tlv> = self
            .nodes
            .iter()
            .filter(|n| n.content <= range.start && range.end <= n.end)
            .copied()
            .collect();
        out.sort_by_key(|n| (n.start, std::cmp::Reverse(n.end)));
        out.dedup();
        out
    }

    /// `buf` with `range` replaced by `new`, every length in `chain` (the TLVs enclosing
    /// `range`, outermost first) re-encoded.
    pub fn splice(buf: &[u8], chain: &[Tlv], range: Range<usize>, new: &[u8]) -> Vec<u8> {
        let Some((outer, inner)) = chain.split_first() else {
            return [&buf[..range.start], new, &buf[range.end..]].concat();
        };
        let shift = |t: &Tlv| Tlv {
            tag: t.tag,
            start: t.start - outer.content,
            content: t.content - outer.content,
            end: t.end - outer.content,
        };
        let inner: Vec<Tlv> = inner.iter().map(shift).collect();
        let contents = Self::splice(
            &buf[outer.contents()],
            &inner,
            range.start - outer.content..range.end - outer.content,
            new,
        );
        [
            &buf[..outer.start],
            &tlv(outer.tag, &contents)[..],
            &buf[outer.end..],
        ]
        .concat()
    }

    /// This token with `range` (inside the AP-REQ or the SPNEGO framing) replaced by `new`.
    pub fn replace(&self, buf: &[u8], range: Range<usize>, new: &[u8]) -> Vec<u8> {
        let chain = self.enclosing(&range);
        Self::splice(buf, &chain, range, new)
    }

    /// This token with `extra` appended inside `parent` (after its last child).
    pub fn append_inside(&self, buf: &[u8], parent: &Tlv, extra: &[u8]) -> Vec<u8> {
        let mut chain = self.enclosing(&(parent.start..parent.end));
        chain.retain(|n| n != parent);
        chain.push(*parent);
        Self::splice(buf, &chain, parent.end..parent.end, extra)
    }
}

/// Whether the length octets of `t` are the minimal DER form.
fn minimal_length(buf: &[u8], t: &Tlv) -> bool {
    let len = t.end - t.content;
    t.content - t.start == tlv(0, &vec![0; len]).len() - len && buf[t.start + 1] != 0x80
}

/// The TLV at `at` if it has tag `tag` and a minimal length.
fn der_at(buf: &[u8], at: usize, tag: u8) -> Option<Tlv> {
    read_tlv(buf, at).filter(|t| t.tag == tag && minimal_length(buf, t))
}

/// Whether the SPNEGO layers of `buf` (everything outside the Kerberos token) are DER: every
/// length minimal and exactly filled, fields in order, nothing after the token. An
/// independent check for the exception that names MIT's lenient SPNEGO decoder.
pub fn spnego_framing_is_der(buf: &[u8]) -> bool {
    let check = || -> Option<()> {
        let outer = der_at(buf, 0, 0x60).filter(|t| t.end == buf.len())?;
        let oid = der_at(buf, outer.content, 0x06)?;
        let init = der_at(buf, oid.end, 0xa0).filter(|t| t.end == outer.end)?;
        let seq = der_at(buf, init.content, 0x30).filter(|t| t.end == init.end)?;
        let fields = children(buf, &seq);
        (fields.last()?.end == seq.end).then_some(())?;
        let tags: Vec<u8> = fields.iter().map(|f| f.tag).collect();
        (tags.windows(2).all(|w| w[0] < w[1]) && tags.iter().all(|t| (0xa0..=0xa3).contains(t)))
            .then_some(())?;
        for f in &fields {
            (minimal_length(buf, f)).then_some(())?;
            match f.tag {
                0xa0 => {
                    let list = der_at(buf, f.content, 0x30).filter(|t| t.end == f.end)?;
                    let oids = children(buf, &list);
                    (oids.last().map_or(list.content, |o| o.end) == list.end).then_some(())?;
                    oids.iter()
                        .all(|o| o.tag == 0x06 && minimal_length(buf, o))
                        .then_some(())?;
                }
                0xa2 => {
                    der_at(buf, f.content, 0x04).filter(|t| t.end == f.end)?;
                }
                _ => {}
            }
        }
        Some(())
    };
    check().is_some()
}

/// The INTEGER in field `[n]` of the AP-REQ, if the token still walks.
pub fn ap_req_integer(buf: &[u8], n: u8) -> Option<i64> {
    let layout = Layout::parse(buf).ok()?;
    let field = child(buf, &layout.ap_req_seq, 0xa0 | n).ok()?;
    integer_in(buf, &field)
}

/// The OID contents that frame the Kerberos token, if the token still walks.
pub fn krb5_token_oid(buf: &[u8]) -> Option<Vec<u8>> {
    let layout = Layout::parse(buf).ok()?;
    let oid = single(buf, &layout.krb5_token).ok()?;
    Some(buf[oid.contents()].to_vec())
}

/// The ticket's kvno, if the token still walks and has one.
pub fn ticket_kvno(buf: &[u8]) -> Option<i64> {
    let layout = Layout::parse(buf).ok()?;
    integer_in(buf, &layout.ticket_kvno?)
}

fn integer_in(buf: &[u8], field: &Tlv) -> Option<i64> {
    let int = single(buf, field).ok().filter(|t| t.tag == 0x02)?;
    let v = &buf[int.contents()];
    let neg = v.first().is_some_and(|b| b & 0x80 != 0);
    Some(
        v.iter()
            .fold(if neg { -1 } else { 0 }, |a, b| (a << 8) | i64::from(*b)),
    )
}

/// `[n] { SEQUENCE { [0] etype, [1] kvno OPTIONAL, [2] OCTET STRING } }`: the wrapper nodes,
/// the etype and kvno fields (whole), and the OCTET STRING.
#[allow(clippy::type_complexity)]
fn encrypted_data(buf: &[u8], field: &Tlv) -> Result<(Vec<Tlv>, Tlv, Option<Tlv>, Tlv), String> {
    let seq = single(buf, field)?;
    let etype = child(buf, &seq, 0xa0)?;
    let kvno = child(buf, &seq, 0xa1).ok();
    let cipher_field = child(buf, &seq, 0xa2)?;
    let cipher = single(buf, &cipher_field)?;
    Ok((vec![*field, seq, cipher_field], etype, kvno, cipher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_reencodes_lengths() {
        let inner = tlv(0x04, &[1, 2, 3]);
        let outer = tlv(0x30, &inner);
        let o = read_tlv(&outer, 0).unwrap();
        let i = read_tlv(&outer, 2).unwrap();
        let grown = Layout::splice(&outer, &[o, i], i.contents(), &[9; 200]);
        assert_eq!(grown, tlv(0x30, &tlv(0x04, &[9; 200])));
        assert_eq!(
            Layout::splice(&outer, &[o, i], i.contents(), &[1, 2, 3]),
            outer
        );
    }
}
