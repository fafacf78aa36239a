//! `extract_client_token` on whatever follows `Negotiate ` once base64-decoded.
//!
//! Properties: it never panics and never allocates more than a few bytes per input byte
//! (libFuzzer's `-malloc_limit_mb` catches the rest); and what it extracts survives a round
//! trip: framing the AP-REQ again as the client did (raw RFC 4121, or SPNEGO with the same
//! preferred Kerberos OID) extracts to the same token.

#![no_main]

use kdc_bridge::proto::spnego::{
    build_krb5_token, build_neg_token_init, extract_client_token, Framing, TOK_ID_AP_REQ,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = extract_client_token(data) else {
        return;
    };
    // The AP-REQ is borrowed from the input, never copied.
    assert!(data.as_ptr_range().start <= token.ap_req.as_ptr_range().start);
    assert!(token.ap_req.as_ptr_range().end <= data.as_ptr_range().end);

    let rebuilt = match token.framing {
        Framing::Raw => build_krb5_token(TOK_ID_AP_REQ, token.ap_req),
        Framing::Spnego { first_mech } => {
            build_neg_token_init(&[first_mech.contents()], token.ap_req)
        }
    };
    let again = extract_client_token(&rebuilt);
    assert_eq!(
        again,
        Ok(token),
        "a token re-framed by our builder extracts differently"
    );
});
