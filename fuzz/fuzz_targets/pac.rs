//! The PAC codec on the same input two ways: `Pac::extract` on it as a PAC (what the acceptor
//! hands over once the ticket decrypts), and `find_pac` on it as a ticket's AuthorizationData,
//! then `Pac::extract` on the PAC found there.
//!
//! Properties: no panic, no allocation sized by a count or length in the input; every error
//! has a listed reason; `verify_server_checksum` and `check_client_info` never panic; and
//! whatever extracts re-encodes: the logon, client and UPN buffers built from the decoded
//! values decode to the same values, and a PAC assembled from them and signed with a fixed
//! key extracts to the same identity and verifies with that key.

#![no_main]

use kdc_bridge::proto::crypto::{Enctype, Key, KeyUsage, UsageKey};
use kdc_bridge::proto::pac::build::{build_pac, sign_pac, signature_placeholder};
use kdc_bridge::proto::pac::{
    buffer_type, find_pac, ClientInfo, LogonInfo, Pac, PacError, UpnDnsInfo,
};
use libfuzzer_sys::fuzz_target;

/// A synthetic service key, as in the acceptor target.
fn key() -> UsageKey {
    Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x42; 32])
        .and_then(|k| k.usage_key(KeyUsage::PAC_CHECKSUM))
        .expect("a 32-byte aes256 key")
}

fn check_error(e: &PacError) {
    assert!(PacError::REASONS.contains(&e.reason()), "{e:?}");
}

/// Whether the UPN buffer's strings fit the 16-bit offsets once laid out again (the input may
/// point several fields at the same octets).
fn upn_fits(u: &UpnDnsInfo) -> bool {
    let units = |s: &str| s.encode_utf16().count() * 2 + 8;
    let sam = u
        .sam_name_and_sid
        .as_ref()
        .map_or(0, |(s, _)| units(s) + 68);
    24 + units(&u.upn) + units(&u.dns_domain_name) + sam <= 0xffff
}

fn check_pac(bytes: &[u8], key: &UsageKey) {
    let pac = match Pac::extract(bytes) {
        Ok(pac) => pac,
        Err(e) => return check_error(&e),
    };
    if let Err(e) = pac.verify_server_checksum(key) {
        check_error(&e);
    }
    if let Err(e) = pac.check_client_info(&["alice"], 1_795_259_762) {
        check_error(&e);
    }

    let logon = pac.logon_info().build();
    assert_eq!(
        &LogonInfo::extract(&logon).expect("logon info we built"),
        pac.logon_info()
    );
    let mut buffers = vec![(buffer_type::LOGON_INFO, logon)];
    if let Some(client) = pac.client_info() {
        let built = client.build();
        assert_eq!(
            &ClientInfo::extract(&built).expect("client info we built"),
            client
        );
        buffers.push((buffer_type::CLIENT_INFO, built));
    }
    match pac.upn_dns_info() {
        Some(upn) if upn_fits(upn) => {
            let built = upn.build();
            assert_eq!(
                &UpnDnsInfo::extract(&built).expect("UPN info we built"),
                upn
            );
            buffers.push((buffer_type::UPN_DNS_INFO, built));
        }
        // Too long to lay out again: leave it out, the identity then has no UPN.
        Some(_) | None => {}
    }
    buffers.push((buffer_type::SERVER_CHECKSUM, signature_placeholder(key)));
    buffers.push((buffer_type::KDC_CHECKSUM, signature_placeholder(key)));
    let refs: Vec<(u32, &[u8])> = buffers.iter().map(|(t, b)| (*t, b.as_slice())).collect();
    let mut rebuilt = build_pac(&refs);
    sign_pac(&mut rebuilt, key, key).expect("a PAC we built signs");
    let again = Pac::extract(&rebuilt).expect("a PAC we built parses");
    assert_eq!(again.verify_server_checksum(key), Ok(()));
    let (mut expected, got) = (pac.identity().clone(), again.identity().clone());
    if again.upn_dns_info().is_none() {
        expected.upn = None;
        expected.dns_domain = None;
    }
    assert_eq!(got, expected);
}

fuzz_target!(|data: &[u8]| {
    let key = key();
    check_pac(data, &key);
    match find_pac(data) {
        Ok(Some(pac)) => check_pac(pac, &key),
        Ok(None) => {}
        Err(e) => check_error(&e),
    }
});
