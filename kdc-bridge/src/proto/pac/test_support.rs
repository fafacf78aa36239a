//! What the PAC unit tests share: the MS-PAC §3 example, keys, a small signed PAC, the
//! Samba captures' PACs and the offsets of fields in the logon information.

#![allow(dead_code, reason = "each test module uses a different part")]

use super::build::PacSpec;
use super::*;
use crate::proto::crypto::{Enctype, Key, KeyUsage};

/// The PAC of [MS-PAC §3] "Structure Examples" (a Windows Server 2003 DC's PAC for `lzhu` in
/// `NTDEV`), the 0x540 octets after the `AD-IF-RELEVANT`/`AD-WIN2K-PAC` framing that the
/// annotated dump starts with. The same octets are the `pac` test of Devolutions/picky-rs
/// `picky-krb/src/pac.rs` (picky-krb 0.13.1).
///
/// [MS-PAC §3]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/52466270-28c0-460b-9f9b-021e81f29847
pub(super) const MS_PAC_EXAMPLE: &str = "
    040000000000000001000000b004000048000000000000000a00000012000000f8040000000000000600000014000000
    10050000000000000700000014000000280500000000000001100800cccccccca00400000000000000000200d186660f
    656ac601ffffffffffffff7fffffffffffffff7f17d439fe784ac6011794a328424bc601175424977a81c60108000800
    040002002400240008000200120012000c00020000000000100002000000000014000200000000001800020054100000
    97792c00010200001a0000001c000200200000000000000000000000000000000000000016001800200002000a000c00
    240002002800020000000000000000001000000000000000000000000000000000000000000000000000000000000000
    0d0000002c0002000000000000000000000000000400000000000000040000006c007a00680075001200000000000000
    120000004c0069007100690061006e00670028004c006100720072007900290020005a00680075000900000000000000
    090000006e0074006400730032002e006200610074000000000000000000000000000000000000000000000000000000
    0000000000000000000000001a00000061c433000700000009c32d00070000005eb43200070000000102000007000000
    97b92c00070000002bf1320007000000ce30330007000000a72e2e00070000002af132000700000098b92c0007000000
    62c4330007000000940133000700000076c4330007000000aefe2d000700000032d22c00070000001608320007000000
    425b2e00070000005fb4320007000000ca9c35000700000085442d0007000000c2f0320007000000e9ea310007000000
    ed8e2e0007000000b6eb310007000000ab2e2e0007000000720e2e00070000000c000000000000000b0000004e005400
    4400450056002d00440043002d003000350000000600000000000000050000004e005400440045005600000004000000
    0104000000000005150000005951b81766725d2564633b0b0d0000003000020007000000340002000700002038000200
    070000203c000200070000204000020007000020440002000700002048000200070000204c0002000700002050000200
    07000020540002000700002058000200070000205c000200070000206000020007000020050000000105000000000005
    15000000b9301b2eb7414c6c8c3b351501020000050000000105000000000005150000005951b81766725d2564633b0b
    74542f00050000000105000000000005150000005951b81766725d2564633b0be8383200050000000105000000000005
    150000005951b81766725d2564633b0bcd383200050000000105000000000005150000005951b81766725d2564633b0b
    5db43200050000000105000000000005150000005951b81766725d2564633b0b41163500050000000105000000000005
    150000005951b81766725d2564633b0be8ea3100050000000105000000000005150000005951b81766725d2564633b0b
    c1193200050000000105000000000005150000005951b81766725d2564633b0b29f13200050000000105000000000005
    150000005951b81766725d2564633b0b0f5f2e00050000000105000000000005150000005951b81766725d2564633b0b
    2f5b2e00050000000105000000000005150000005951b81766725d2564633b0bef8f3100050000000105000000000005
    150000005951b81766725d2564633b0b075f2e00000000000049d90e656ac60108006c007a0068007500000000000000
    76ffffff41edce9a34815d3aef7bc98874805d250000000076fffffff7a534dab2c02986efe0fbe5110a4f3200000000
";

pub(super) fn ms_pac_example() -> Vec<u8> {
    let hex: String = MS_PAC_EXAMPLE.split_whitespace().collect();
    hex::decode(hex).expect("hex")
}

pub(super) fn sid(s: &str) -> Sid {
    s.parse().expect("SID literal")
}

pub(super) fn ntdev(rid: u32) -> Sid {
    sid("S-1-5-21-397955417-626881126-188441444")
        .with_rid(rid)
        .expect("room for a RID")
}

/// A service key of each enctype and its PAC checksum key.
pub(super) fn pac_key(enctype: Enctype) -> UsageKey {
    let bytes = vec![0x5a; enctype.key_len()];
    Key::from_bytes(enctype, &bytes)
        .expect("key length")
        .usage_key(KeyUsage::PAC_CHECKSUM)
        .expect("usage key")
}

/// A small signed PAC (2 groups) and its key.
pub(super) fn small_pac() -> (Vec<u8>, UsageKey) {
    let key = pac_key(Enctype::Aes256CtsHmacSha196);
    let pac = PacSpec::new("alice", "CORP.TEST", 1_795_259_762, 2)
        .build(&key, &key)
        .expect("signs");
    (pac, key)
}

/// Rewrites one little-endian u32 of `buf`.
pub(super) fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The offset of the `index`-th PAC_INFO_BUFFER.
pub(super) fn info_at(index: usize) -> usize {
    PACTYPE_LEN + index * PAC_INFO_BUFFER_LEN
}

/// The `authorization-data` of the ticket in a captured token of `tests/vectors/samba` (see
/// `tests/vectors/README.md`), decrypted with its keytab; `tests/pac_samba.rs` checks the PAC
/// in it.
pub(super) fn samba_authorization_data(token: &str, keytab: &str) -> Vec<u8> {
    use crate::proto::keys::ServiceKeys;
    use crate::proto::keytab::Keytab;
    use crate::proto::krb::messages::{extract_ap_req, extract_enc_ticket_part};
    use crate::proto::spnego::extract_client_token;

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/samba/");
    let token = std::fs::read(format!("{dir}{token}")).unwrap();
    let keytab = Keytab::extract(&std::fs::read(format!("{dir}{keytab}")).unwrap()).unwrap();
    let keys = ServiceKeys::from_keytab(&keytab);
    let ap_req = extract_ap_req(extract_client_token(&token).unwrap().ap_req).unwrap();
    let ticket = &ap_req.ticket;
    let key = keys
        .find(
            &ticket.sname.to_principal(ticket.realm),
            ticket.enc_part.kvno,
            ticket.enc_part.etype,
        )
        .unwrap();
    let plain = key.ticket_key.decrypt(ticket.enc_part.cipher).unwrap();
    let part = extract_enc_ticket_part(&plain).unwrap();
    part.authorization_data.unwrap().to_vec()
}

pub(super) fn samba_pac(token: &str, keytab: &str) -> Vec<u8> {
    let ad = samba_authorization_data(token, keytab);
    find_pac(&ad).unwrap().unwrap().to_vec()
}

/// Offsets inside the NDR data (after the 16-octet header) of the fixed-part fields.
pub(super) mod at {
    /// The PAC_LOGON_INFO pointer, six FILETIMEs.
    pub const EFFECTIVE_NAME: usize = 16 + 4 + 48;
    pub const GROUP_COUNT: usize = EFFECTIVE_NAME + 6 * 8 + 4 + 8;
    pub const GROUP_IDS: usize = GROUP_COUNT + 4;
    pub const LOGON_DOMAIN_ID: usize = GROUP_IDS + 4 + 4 + 16 + 16;
    pub const SID_COUNT: usize = LOGON_DOMAIN_ID + 4 + 8 + 8 + 16 + 8;
    pub const EXTRA_SIDS: usize = SID_COUNT + 4;
    pub const RESOURCE_DOMAIN: usize = EXTRA_SIDS + 4;
    pub const RESOURCE_COUNT: usize = RESOURCE_DOMAIN + 4;
    pub const RESOURCE_IDS: usize = RESOURCE_COUNT + 4;
}
