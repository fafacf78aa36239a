use picky_asn1_der::from_bytes as picky_decode;
use picky_krb::gss_api::NegTokenTarg1;
use proptest::prelude::*;

use super::*;

const AP_REQ: &[u8] = &[0x6e, 0x03, 0x30, 0x01, 0x00];

#[test]
fn finds_kerberos_in_a_windows_style_neg_token_init() {
    // Windows order: MS Kerberos, Kerberos, NegoEx, NTLM.
    let tok = build_neg_token_init(
        &[oid::MS_KRB5, oid::KRB5, oid::NEGOEX, oid::NTLMSSP],
        AP_REQ,
    );
    let k = extract_client_token(&tok).unwrap();
    assert_eq!(k.ap_req, AP_REQ);
    assert_eq!(
        k.framing,
        Framing::Spnego {
            first_mech: KrbOid::Microsoft
        }
    );

    // MIT order: Kerberos first.
    let tok = build_neg_token_init(&[oid::KRB5, oid::MS_KRB5], AP_REQ);
    assert_eq!(
        extract_client_token(&tok).unwrap().framing,
        Framing::Spnego {
            first_mech: KrbOid::Standard
        }
    );
}

#[test]
fn reads_raw_kerberos_tokens() {
    let tok = build_krb5_token(TOK_ID_AP_REQ, AP_REQ);
    assert_eq!(
        &tok[..13],
        &[0x60, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02]
    );
    let k = extract_client_token(&tok).unwrap();
    assert_eq!(
        k,
        KerberosToken {
            ap_req: AP_REQ,
            framing: Framing::Raw
        }
    );

    let rep = build_krb5_token(TOK_ID_AP_REP, AP_REQ);
    assert_eq!(
        extract_client_token(&rep),
        Err(AcceptError::Malformed {
            what: "Kerberos TOK_ID (expected 01 00, AP-REQ)"
        })
    );
}

#[test]
fn refuses_ntlm_in_every_form() {
    // Raw NTLMSSP NEGOTIATE_MESSAGE, as a browser without a ticket sends it.
    let raw = b"NTLMSSP\0\x01\x00\x00\x00\x07\x82\x08\xa2";
    assert_eq!(extract_client_token(raw), Err(AcceptError::Ntlm));

    // NTLM first in SPNEGO with an NTLMSSP optimistic token.
    let mech_list = der::tlv(tag::SEQUENCE, &[&der::tlv(tag::OID, &[oid::NTLMSSP])]);
    let init = der::tlv(
        tag::context(0),
        &[&der::tlv(
            tag::SEQUENCE,
            &[
                &der::tlv(tag::context(0), &[&mech_list]),
                &der::tlv(tag::context(2), &[&der::tlv(tag::OCTET_STRING, &[raw])]),
            ],
        )],
    );
    let tok = der::tlv(
        tag::APPLICATION_0,
        &[&der::tlv(tag::OID, &[oid::SPNEGO]), &init],
    );
    assert_eq!(extract_client_token(&tok), Err(AcceptError::Ntlm));

    // Kerberos listed first but the token is NTLMSSP anyway.
    let tok = build_neg_token_init(&[oid::KRB5], AP_REQ);
    let krb = build_krb5_token(TOK_ID_AP_REQ, AP_REQ);
    let swapped = replace(
        &tok,
        &krb,
        &[raw.as_slice(), &[0u8; 8]].concat()[..krb.len()],
    );
    assert_eq!(extract_client_token(&swapped), Err(AcceptError::Ntlm));
}

/// Replaces the first occurrence of `from` in `hay` with `to` (same length).
fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let pos = hay.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = hay.to_vec();
    out[pos..pos + from.len()].copy_from_slice(to);
    out
}

#[test]
fn refuses_negoex_and_unknown_mechs() {
    let tok = build_neg_token_init(&[oid::NEGOEX, oid::KRB5], AP_REQ);
    assert_eq!(extract_client_token(&tok), Err(AcceptError::NegoEx));

    // IAKERB, 1.3.6.1.5.2.5.
    let iakerb: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x02, 0x05];
    let tok = build_neg_token_init(&[iakerb], AP_REQ);
    assert_eq!(
        extract_client_token(&tok),
        Err(AcceptError::UnsupportedMech {
            oid: "1.3.6.1.5.2.5".into()
        })
    );
}

#[test]
fn refuses_structural_problems() {
    assert_eq!(
        extract_client_token(&[]),
        Err(AcceptError::Malformed {
            what: "empty token"
        })
    );
    let mut tok = build_neg_token_init(&[oid::KRB5], AP_REQ);
    tok.push(0);
    assert_eq!(
        extract_client_token(&tok),
        Err(AcceptError::Malformed {
            what: "GSS token framing"
        })
    );

    // A NegTokenResp as the first token.
    let resp = build_neg_token_resp(NegState::AcceptIncomplete, Some(KrbOid::Standard), None);
    let tok = der::tlv(
        tag::APPLICATION_0,
        &[&der::tlv(tag::OID, &[oid::SPNEGO]), &resp],
    );
    assert_eq!(
        extract_client_token(&tok),
        Err(AcceptError::Malformed {
            what: "SPNEGO token (NegTokenResp without a negotiation)"
        })
    );

    // No mechToken.
    let mech_list = der::tlv(tag::SEQUENCE, &[&der::tlv(tag::OID, &[oid::KRB5])]);
    let init = der::tlv(
        tag::context(0),
        &[&der::tlv(
            tag::SEQUENCE,
            &[&der::tlv(tag::context(0), &[&mech_list])],
        )],
    );
    let tok = der::tlv(
        tag::APPLICATION_0,
        &[&der::tlv(tag::OID, &[oid::SPNEGO]), &init],
    );
    assert_eq!(extract_client_token(&tok), Err(AcceptError::NoMechToken));

    // 33 mechanisms.
    let many = vec![oid::KRB5; 33];
    assert_eq!(
        extract_client_token(&build_neg_token_init(&many, AP_REQ)),
        Err(AcceptError::Malformed {
            what: "SPNEGO mechTypes (too many)"
        })
    );
}

#[test]
fn oids_print_in_dotted_form() {
    assert_eq!(oid_to_string(oid::KRB5), "1.2.840.113554.1.2.2");
    assert_eq!(oid_to_string(oid::MS_KRB5), "1.2.840.48018.1.2.2");
    assert_eq!(oid_to_string(oid::NEGOEX), "1.3.6.1.4.1.311.2.2.30");
    assert_eq!(oid_to_string(oid::SPNEGO), "1.3.6.1.5.5.2");
}

#[test]
fn neg_token_resp_is_what_picky_reads() {
    let token = build_krb5_token(TOK_ID_AP_REP, &[0x6f, 0x00]);
    let resp = build_neg_token_resp(
        NegState::AcceptCompleted,
        Some(KrbOid::Microsoft),
        Some(&token),
    );
    // accept-completed = a0 03 0a 01 00, as RFC 4178 §4.2.2 encodes it.
    assert_eq!(&resp[..2], &[0xa1, resp.len() as u8 - 2]);
    assert_eq!(&resp[4..9], &[0xa0, 0x03, 0x0a, 0x01, 0x00]);
    let decoded: NegTokenTarg1 = picky_decode(&resp).unwrap();
    let targ = decoded.0;
    assert_eq!(targ.neg_result.0.unwrap().0 .0, vec![0x0a, 0x01, 0x00]);
    assert_eq!(
        oid_to_string(&picky_asn1_der::to_vec(&targ.supported_mech.0.unwrap().0).unwrap()[2..]),
        "1.2.840.48018.1.2.2"
    );
    assert_eq!(targ.response_token.0.unwrap().0 .0, token);
}

proptest! {
    #[test]
    fn random_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = extract_client_token(&data);
    }

    #[test]
    fn mutations_never_panic(pos in 0usize..200, bit in 0u8..8, cut in 0usize..200) {
        let mut tok = build_neg_token_init(&[oid::MS_KRB5, oid::KRB5, oid::NTLMSSP], AP_REQ);
        let pos = pos % tok.len();
        tok[pos] ^= 1 << bit;
        tok.truncate(cut.min(tok.len()));
        let _ = extract_client_token(&tok);
    }
}
