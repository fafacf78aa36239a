//! Mutations that survive the integrity checks: the ticket is decrypted with the keytab key
//! and the authenticator with the session key, one field is changed, and both are encrypted
//! again. Only a holder of the service key can do this, so these tokens probe the checks that
//! come after decryption (times, names, the GSS checksum), which bit flips never reach.
//!
//! Plus edits of the cleartext parts of the ticket (sname, realm, kvno, ap-options).

use std::path::Path;

use kdc_bridge::proto::crypto::{Enctype, Key, KeyUsage, MAX_CONFOUNDER_LEN};
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::krb::asn1::{format_time, integer};

use super::layout::{children, read_tlv, tlv, Layout};
use super::mutate::Mutant;

/// The `[n]` fields of a decrypted `[APPLICATION k] SEQUENCE`, as whole TLVs.
#[derive(Debug, Clone)]
struct Fields {
    app_tag: u8,
    fields: Vec<(u8, Vec<u8>)>,
}

impl Fields {
    fn parse(plain: &[u8]) -> Self {
        let app = read_tlv(plain, 0).expect("decrypted message is DER");
        let seq = read_tlv(&plain[..app.end], app.content).expect("SEQUENCE inside");
        let fields = children(plain, &seq)
            .into_iter()
            .map(|f| (f.tag, plain[f.whole()].to_vec()))
            .collect();
        Self {
            app_tag: plain[0],
            fields,
        }
    }

    fn build(&self) -> Vec<u8> {
        let body: Vec<u8> = self.fields.iter().flat_map(|(_, f)| f.clone()).collect();
        tlv(self.app_tag, &tlv(0x30, &body))
    }

    /// The contents of field `[n]` (the value inside the explicit tag).
    fn get(&self, n: u8) -> Option<&[u8]> {
        let (_, f) = self.fields.iter().find(|(t, _)| *t == 0xa0 | n)?;
        let t = read_tlv(f, 0)?;
        Some(&f[t.contents()])
    }

    /// Sets field `[n]` to the encoded `value`, keeping the fields in tag order.
    fn set(&mut self, n: u8, value: &[u8]) {
        let tag = 0xa0 | n;
        let whole = tlv(tag, value);
        match self.fields.iter_mut().find(|(t, _)| *t == tag) {
            Some(f) => f.1 = whole,
            None => {
                self.fields.push((tag, whole));
                self.fields.sort_by_key(|(t, _)| *t);
            }
        }
    }

    fn remove(&mut self, n: u8) {
        self.fields.retain(|(t, _)| *t != 0xa0 | n);
    }
}

fn time(t: i64) -> Vec<u8> {
    tlv(0x18, &format_time(t))
}

fn string(s: &str) -> Vec<u8> {
    tlv(0x1b, s.as_bytes())
}

fn principal_name(name_type: i64, components: &[&str]) -> Vec<u8> {
    let names: Vec<u8> = components.iter().flat_map(|c| string(c)).collect();
    tlv(
        0x30,
        &[
            tlv(0xa0, &integer(name_type)),
            tlv(0xa1, &tlv(0x30, &names)),
        ]
        .concat(),
    )
}

/// The RFC 4121 §4.1.1 checksum value: Lgth, Bnd, Flags, then `tail`.
fn gss_checksum(lgth: u32, bnd: [u8; 16], flags: u32, tail: &[u8]) -> Vec<u8> {
    [&lgth.to_le_bytes()[..], &bnd, &flags.to_le_bytes(), tail].concat()
}

fn checksum_field(cksumtype: i64, value: &[u8]) -> Vec<u8> {
    tlv(
        0x30,
        &[tlv(0xa0, &integer(cksumtype)), tlv(0xa1, &tlv(0x04, value))].concat(),
    )
}

fn confounder(seed: u8) -> [u8; MAX_CONFOUNDER_LEN] {
    std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7))
}

/// A token opened with the service key.
#[derive(Debug)]
pub struct Opened {
    token: Vec<u8>,
    layout: Layout,
    ticket_key: Key,
    session_key: Key,
    ticket: Fields,
    auth: Fields,
}

impl Opened {
    /// Decrypts the ticket of `token` with the matching key of `keytab`, and its
    /// authenticator with the ticket's session key.
    pub fn open(token: &[u8], keytab: &Path) -> Self {
        let layout = Layout::parse(token).expect("token parses");
        let etype =
            i32::try_from(integer_value(&token[layout.ticket_etype.whole()])).expect("etype fits");
        let kt = Keytab::extract(&std::fs::read(keytab).expect("read keytab")).expect("keytab");
        let ticket_key = kt
            .entries
            .iter()
            .filter_map(|e| e.key.clone())
            .find(|k| k.enctype().etype() == etype)
            .expect("keytab has the ticket's enctype");
        let plain = ticket_key
            .usage_key(KeyUsage::KDC_REP_TICKET)
            .and_then(|k| k.decrypt(&token[layout.ticket_cipher.contents()]))
            .expect("ticket decrypts with the keytab");
        let ticket = Fields::parse(&plain);
        let key_field = ticket.get(1).expect("EncTicketPart has a key");
        let key_seq = Fields::parse(&tlv(0x60, key_field));
        let keytype = integer_value(key_seq.get(0).expect("keytype"));
        let keyvalue = read_tlv(key_seq.get(1).expect("keyvalue"), 0).expect("OCTET STRING");
        let key_bytes = &key_seq.get(1).expect("keyvalue")[keyvalue.contents()];
        let session_enctype =
            Enctype::try_from(i32::try_from(keytype).expect("keytype fits")).expect("known");
        let session_key = Key::from_bytes(session_enctype, key_bytes).expect("session key");
        let auth_plain = session_key
            .usage_key(KeyUsage::AP_REQ_AUTHENTICATOR)
            .and_then(|k| k.decrypt(&token[layout.auth_cipher.contents()]))
            .expect("authenticator decrypts with the session key");
        Self {
            token: token.to_vec(),
            layout,
            ticket_key,
            session_key,
            ticket,
            auth: Fields::parse(&auth_plain),
        }
    }

    /// The token with the given plaintexts encrypted in place of the originals.
    fn seal(&self, ticket: Option<&Fields>, auth: Option<&Fields>, seed: u8) -> Vec<u8> {
        let mut token = self.token.clone();
        if let Some(a) = auth {
            let cipher = self
                .session_key
                .usage_key(KeyUsage::AP_REQ_AUTHENTICATOR)
                .expect("usage key")
                .encrypt(&a.build(), &confounder(seed));
            token = self
                .layout
                .replace(&token, self.layout.auth_cipher.contents(), &cipher);
        }
        if let Some(t) = ticket {
            let layout = Layout::parse(&token).expect("resealed token parses");
            let cipher = self
                .ticket_key
                .usage_key(KeyUsage::KDC_REP_TICKET)
                .expect("usage key")
                .encrypt(&t.build(), &confounder(seed.wrapping_add(1)));
            token = layout.replace(&token, layout.ticket_cipher.contents(), &cipher);
        }
        token
    }

    fn gss_checksum_value(&self) -> Vec<u8> {
        let cksum = Fields::parse(&tlv(0x60, self.auth.get(3).expect("authenticator cksum")));
        let v = cksum.get(1).expect("checksum value");
        let octets = read_tlv(v, 0).expect("OCTET STRING");
        v[octets.contents()].to_vec()
    }

    /// Every re-encrypted variant, at `now`.
    pub fn resealed(&self, now: i64) -> Vec<Mutant> {
        let mut out = Vec::new();
        let mut seed = 0u8;
        let mut push = |class: &str, label: &str, t: Option<Fields>, a: Option<Fields>| {
            seed = seed.wrapping_add(2);
            out.push(Mutant {
                class: class.to_owned(),
                label: label.to_owned(),
                region: None,
                bytes: self.seal(t.as_ref(), a.as_ref(), seed),
            });
        };
        let ticket = |f: &dyn Fn(&mut Fields)| {
            let mut t = self.ticket.clone();
            f(&mut t);
            Some(t)
        };
        let auth = |f: &dyn Fn(&mut Fields)| {
            let mut a = self.auth.clone();
            f(&mut a);
            Some(a)
        };

        push(
            "resealed",
            "both re-encrypted unchanged (control)",
            ticket(&|_| {}),
            auth(&|_| {}),
        );

        let t = "resealed ticket";
        push(
            t,
            "endtime an hour ago, fresh authenticator",
            ticket(&|f| f.set(7, &time(now - 3600))),
            None,
        );
        push(
            t,
            "starttime in an hour",
            ticket(&|f| f.set(6, &time(now + 3600))),
            None,
        );
        push(
            t,
            "no starttime (authtime is used)",
            ticket(&|f| f.remove(6)),
            None,
        );
        push(t, "no renew-till", ticket(&|f| f.remove(8)), None);
        push(
            t,
            "no authorization-data (no PAC)",
            ticket(&|f| f.remove(10)),
            None,
        );
        push(
            t,
            "INVALID flag set",
            ticket(&|f| {
                let mut flags = f.get(0).expect("flags").to_vec();
                flags[3] |= 0x01;
                f.set(0, &flags);
            }),
            None,
        );
        push(
            t,
            "client mallory",
            ticket(&|f| f.set(3, &principal_name(1, &["mallory"]))),
            None,
        );
        push(
            t,
            "client realm in lower case",
            ticket(&|f| f.set(2, &string("corp.test"))),
            None,
        );
        push(
            t,
            "session key labelled aes128",
            ticket(&|f| {
                let key = Fields::parse(&tlv(0x60, f.get(1).expect("key")));
                let value = key.get(1).expect("keyvalue").to_vec();
                f.set(
                    1,
                    &tlv(0x30, &[tlv(0xa0, &integer(17)), tlv(0xa1, &value)].concat()),
                );
            }),
            None,
        );
        let caddr = tlv(
            0x30,
            &tlv(
                0x30,
                &[
                    tlv(0xa0, &integer(2)),
                    tlv(0xa1, &tlv(0x04, &[127, 0, 0, 99])),
                ]
                .concat(),
            ),
        );
        push(
            t,
            "client address 127.0.0.99 (caddr)",
            ticket(&|f| f.set(9, &caddr)),
            None,
        );
        let transited = tlv(
            0x30,
            &[tlv(0xa0, &integer(1)), tlv(0xa1, &tlv(0x04, b"OTHER.TEST"))].concat(),
        );
        push(
            t,
            "transited OTHER.TEST",
            ticket(&|f| f.set(4, &transited)),
            None,
        );

        let b = "resealed both";
        push(
            b,
            "client realm in lower case in both",
            ticket(&|f| f.set(2, &string("corp.test"))),
            auth(&|f| f.set(1, &string("corp.test"))),
        );
        let upper = |f: &mut Fields, n: u8| {
            let name = self.client_components();
            let upper: Vec<String> = name.iter().map(|c| c.to_ascii_uppercase()).collect();
            let refs: Vec<&str> = upper.iter().map(String::as_str).collect();
            f.set(n, &principal_name(1, &refs));
        };
        push(
            b,
            "client name in upper case in both",
            ticket(&|f| upper(f, 3)),
            auth(&|f| upper(f, 2)),
        );

        let a = "resealed authenticator";
        push(
            a,
            "ctime 250 s ago (within skew)",
            None,
            auth(&|f| f.set(5, &time(now - 250))),
        );
        push(
            a,
            "ctime 360 s ago",
            None,
            auth(&|f| f.set(5, &time(now - 360))),
        );
        push(
            a,
            "ctime 360 s ahead",
            None,
            auth(&|f| f.set(5, &time(now + 360))),
        );
        push(
            a,
            "cusec 1000000",
            None,
            auth(&|f| f.set(4, &integer(1_000_000))),
        );
        push(
            a,
            "client mallory",
            None,
            auth(&|f| f.set(2, &principal_name(1, &["mallory"]))),
        );
        push(
            a,
            "client realm in lower case",
            None,
            auth(&|f| f.set(1, &string("corp.test"))),
        );
        push(a, "no subkey", None, auth(&|f| f.remove(6)));
        push(a, "no seq-number", None, auth(&|f| f.remove(7)));
        let des_subkey = tlv(
            0x30,
            &[tlv(0xa0, &integer(1)), tlv(0xa1, &tlv(0x04, &[7; 8]))].concat(),
        );
        push(
            a,
            "subkey des-cbc-crc",
            None,
            auth(&|f| f.set(6, &des_subkey)),
        );
        let odd_subkey = tlv(
            0x30,
            &[tlv(0xa0, &integer(99)), tlv(0xa1, &tlv(0x04, &[7; 32]))].concat(),
        );
        push(
            a,
            "subkey enctype 99",
            None,
            auth(&|f| f.set(6, &odd_subkey)),
        );
        let short_subkey = tlv(
            0x30,
            &[tlv(0xa0, &integer(18)), tlv(0xa1, &tlv(0x04, &[7; 16]))].concat(),
        );
        push(
            a,
            "subkey aes256 with 16 octets",
            None,
            auth(&|f| f.set(6, &short_subkey)),
        );

        let g = "resealed gss checksum";
        let orig = self.gss_checksum_value();
        let flags = u32::from_le_bytes(orig[20..24].try_into().expect("4 octets"));
        let with = |v: Vec<u8>| move |f: &mut Fields| f.set(3, &checksum_field(0x8003, &v));
        push(g, "no checksum", None, auth(&|f| f.remove(3)));
        push(
            g,
            "checksum type 0x8004",
            None,
            auth(&|f| f.set(3, &checksum_field(0x8004, &orig))),
        );
        let samba = self
            .session_key
            .usage_key(KeyUsage::AP_REQ_AUTHENTICATOR_CKSUM)
            .expect("usage key")
            .checksum(b"");
        let samba_type = i64::from(self.session_key.enctype().checksum_type());
        push(
            g,
            "keyed checksum over empty data (Samba style)",
            None,
            auth(&|f| f.set(3, &checksum_field(samba_type, &samba))),
        );
        push(
            g,
            "Bnd non-zero, acceptor has no bindings",
            None,
            auth(&with(gss_checksum(16, [0x5a; 16], flags, &[]))),
        );
        push(
            g,
            "Lgth 0",
            None,
            auth(&with(gss_checksum(0, [0; 16], flags, &[]))),
        );
        push(
            g,
            "Lgth 15",
            None,
            auth(&with(gss_checksum(15, [0; 16], flags, &[]))),
        );
        push(g, "23 octets", None, auth(&with(orig[..23].to_vec())));
        push(
            g,
            "flags 0 (no mutual)",
            None,
            auth(&with(gss_checksum(16, [0; 16], 0, &[]))),
        );
        push(
            g,
            "flags DCE_STYLE",
            None,
            auth(&with(gss_checksum(16, [0; 16], flags | 0x1000, &[]))),
        );
        push(
            g,
            "flags DELEG, no delegation field",
            None,
            auth(&with(gss_checksum(16, [0; 16], flags | 1, &[]))),
        );
        push(
            g,
            "flags DELEG, delegation field not a KRB-CRED",
            None,
            auth(&with(gss_checksum(
                16,
                [0; 16],
                flags | 1,
                &[1, 0, 4, 0, 0xde, 0xad, 0xbe, 0xef],
            ))),
        );
        push(
            g,
            "flags DELEG, DlgOpt 2",
            None,
            auth(&with(gss_checksum(16, [0; 16], flags | 1, &[2, 0, 0, 0]))),
        );
        out
    }

    fn client_components(&self) -> Vec<String> {
        let cname = Fields::parse(&tlv(0x60, self.ticket.get(3).expect("cname")));
        let seq = cname.get(1).expect("name-string");
        let seq_tlv = read_tlv(seq, 0).expect("SEQUENCE OF");
        children(seq, &seq_tlv)
            .into_iter()
            .map(|c| String::from_utf8_lossy(&seq[c.contents()]).into_owned())
            .collect()
    }

    /// Edits of the ticket's cleartext (no re-encryption needed).
    pub fn cleartext(&self) -> Vec<Mutant> {
        let l = &self.layout;
        let tok = &self.token;
        let realm = std::str::from_utf8(&tok[l.realm.contents()]).expect("realm is text");
        let host = self.service_components();
        let mut out = Vec::new();
        let mut push = |label: &str, bytes: Vec<u8>| {
            out.push(Mutant {
                class: "cleartext".to_owned(),
                label: label.to_owned(),
                region: None,
                bytes,
            });
        };
        let with_sname =
            |components: &[&str]| l.replace(tok, l.sname.whole(), &principal_name(3, components));
        let upper_host = host[1].to_ascii_uppercase();
        push(
            "sname host in upper case",
            with_sname(&[&host[0], &upper_host]),
        );
        push(
            "sname service in lower case",
            with_sname(&[&host[0].to_ascii_lowercase(), &host[1]]),
        );
        push(
            "sname HTTP/other.corp.test",
            with_sname(&["HTTP", "other.corp.test"]),
        );
        push(
            "sname with a third component",
            with_sname(&[&host[0], &host[1], "x"]),
        );
        let name_type_1 = principal_name(1, &[&host[0], &host[1]]);
        push(
            "sname name-type 1",
            l.replace(tok, l.sname.whole(), &name_type_1),
        );
        assert_eq!(
            with_sname(&[&host[0], &host[1]]),
            *tok,
            "sname rebuild is exact"
        );
        push(
            "realm in lower case",
            l.replace(
                tok,
                l.realm.contents(),
                realm.to_ascii_lowercase().as_bytes(),
            ),
        );
        push(
            "realm OTHER.TEST",
            l.replace(tok, l.realm.contents(), b"OTHER.TEST"),
        );
        if let Some(kvno) = l.ticket_kvno {
            push("no kvno", l.replace(tok, kvno.whole(), &[]));
            push(
                "kvno 2",
                l.replace(tok, kvno.whole(), &tlv(0xa1, &integer(2))),
            );
            push(
                "kvno 0",
                l.replace(tok, kvno.whole(), &tlv(0xa1, &integer(0))),
            );
        }
        let options = |bits: [u8; 4]| tlv(0x03, &[&[0u8][..], &bits].concat());
        let ap_options = l.ap_options.whole();
        push(
            "ap-options use-session-key",
            l.replace(tok, ap_options.clone(), &options([0x60, 0, 0, 0])),
        );
        push(
            "ap-options none (no mutual-required)",
            l.replace(tok, ap_options.clone(), &options([0, 0, 0, 0])),
        );
        push(
            "ap-options reserved bit 0",
            l.replace(tok, ap_options, &options([0xa0, 0, 0, 0])),
        );
        out
    }

    fn service_components(&self) -> Vec<String> {
        let l = &self.layout;
        let sname = &self.token[l.sname.whole()];
        let f = Fields::parse(&tlv(0x60, sname));
        let seq = f.get(1).expect("name-string");
        let seq_tlv = read_tlv(seq, 0).expect("SEQUENCE OF");
        children(seq, &seq_tlv)
            .into_iter()
            .map(|c| String::from_utf8_lossy(&seq[c.contents()]).into_owned())
            .collect()
    }
}

/// The value of a `[n] INTEGER` field or a bare INTEGER.
fn integer_value(der: &[u8]) -> i64 {
    let mut t = read_tlv(der, 0).expect("TLV");
    if t.tag != 0x02 {
        t = read_tlv(&der[..t.end], t.content).expect("INTEGER inside");
    }
    let v = &der[t.contents()];
    let neg = v.first().is_some_and(|b| b & 0x80 != 0);
    v.iter()
        .fold(if neg { -1 } else { 0 }, |a, b| (a << 8) | i64::from(*b))
}
