//! The TLS listener (certificate for gw.corp.test signed by the test CA) with HTTP/2: large
//! Negotiate headers in HPACK, and `Secure` session cookies.

use std::collections::BTreeMap;

use e2e::{ad, bound_tokens, tls_server_end_point, tokens, Gateway, GatewayOptions};

fn tls_gateway(label: &str) -> Gateway {
    Gateway::start(
        label,
        &GatewayOptions {
            tls: true,
            ..GatewayOptions::gw()
        },
    )
}

/// dave (1000 groups, a ~12.6 KB Authorization header) over HTTP/2.
#[test]
fn http2_with_a_large_ticket_and_a_secure_cookie() {
    let gw = tls_gateway("tls-h2");
    let dave = gw.kinit("dave");

    let r = gw.curl("/h2").negotiate(&dave).https(true).send();

    assert_eq!((r.status, r.version.as_str()), (200, "2"), "{r:?}");
    assert_eq!(r.echo().header("x-remote-user"), ["dave@CORP.TEST"]);
    let cookie = r.header("set-cookie").unwrap_or_default();
    assert!(cookie.starts_with("iwagw_session=v2."), "{cookie}");
    assert!(
        cookie.ends_with("; HttpOnly; SameSite=Lax; Secure"),
        "{cookie}"
    );
    let www = r.header("www-authenticate").unwrap_or_default();
    assert!(www.starts_with("Negotiate "), "mutual-auth token: {www:?}");
    let m = gw.metrics();
    assert_eq!(
        m.value("iwagw_token_size_bytes_bucket", &[("le", "8192")]),
        Some(0.0)
    );
    assert_eq!(
        m.value("iwagw_token_size_bytes_bucket", &[("le", "16384")]),
        Some(1.0)
    );
    assert_eq!(
        m.handshakes().into_iter().collect::<Vec<_>>(),
        [("success/ok".to_owned(), 1)]
    );
}

/// HTTP/1.1 over TLS works the same, and the plain listener of the same gateway still issues
/// cookies without `Secure`.
#[test]
fn http1_over_tls_and_plain_http_side_by_side() {
    let gw = tls_gateway("tls-h1");
    let alice = gw.kinit("alice");

    let tls = gw.curl("/tls").negotiate(&alice).https(false).send();
    assert_eq!((tls.status, tls.version.as_str()), (200, "1.1"), "{tls:?}");
    assert_eq!(tls.echo().header("x-remote-user"), ["alice@CORP.TEST"]);
    assert!(
        tls.header("set-cookie")
            .is_some_and(|c| c.ends_with("; Secure")),
        "{tls:?}"
    );

    let plain = gw.curl("/plain").negotiate(&alice).send();
    assert_eq!(plain.status, 200, "{plain:?}");
    assert!(
        plain
            .header("set-cookie")
            .is_some_and(|c| !c.contains("Secure")),
        "{plain:?}"
    );
}

/// Channel bindings are enforced (the default): a token bound to our certificate is accepted,
/// one bound to another certificate (a TLS man in the middle relaying it) is refused, an
/// unbound one (curl, older clients) is accepted, and a bound one over plain HTTP is refused.
#[test]
fn channel_bindings_must_match_our_certificate() {
    let gw = tls_gateway("tls-cb");
    let alice = gw.kinit("alice");
    let ours = tls_server_end_point(&gw.dir().join("tls.pem"));
    let theirs = tls_server_end_point(&ad().path("IWA_AD_CA"));
    let send = |token: &str| {
        gw.curl("/cb")
            .https(true)
            .header(&format!("Authorization: Negotiate {token}"))
            .send()
    };

    let r = send(&bound_tokens(&alice, &gw.service(), 1, &ours)[0]);
    assert_eq!(r.status, 200, "bound to our certificate: {r:?}");
    assert_eq!(r.echo().header("x-remote-user"), ["alice@CORP.TEST"]);

    let r = send(&bound_tokens(&alice, &gw.service(), 1, &theirs)[0]);
    assert_eq!(r.status, 401, "bound to another certificate: {r:?}");
    assert_eq!(r.header_all("www-authenticate"), ["Negotiate"]);

    let r = send(&tokens(&alice, &gw.service(), 1, false)[0]);
    assert_eq!(r.status, 200, "unbound: {r:?}");

    // Bound to our certificate but arriving over plain HTTP: something stripped the TLS.
    let token = &bound_tokens(&alice, &gw.service(), 1, &ours)[0];
    let r = gw.get("/cb", &[("Authorization", &format!("Negotiate {token}"))]);
    assert_eq!(r.status, 401, "bound token over plain HTTP: {r:?}");

    assert_eq!(
        gw.metrics().handshakes(),
        BTreeMap::from([
            ("success/ok".to_owned(), 2),
            ("failure/channel_bindings".to_owned(), 2)
        ])
    );
    let audit = gw.wait_audit(&["result=\"failure\"", "reason=\"channel_bindings\""]);
    assert_eq!(audit.len(), 2, "{audit:?}");
}

/// One HTTP/2 GET over TLS with hyper's client, which (unlike curl's nghttp2, capped at 64 KiB
/// per header block) sends as much as the server's SETTINGS_MAX_HEADER_LIST_SIZE allows.
fn h2_get(gw: &Gateway, path: &str, authorization: &str) -> u16 {
    use http_body_util::Empty;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ad().path("IWA_AD_CA")).expect("CA file") {
            roots.add(cert.expect("CA cert")).expect("CA");
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = tokio::net::TcpStream::connect(gw.https_addr())
            .await
            .expect("connect");
        let name = ServerName::try_from(gw.host().to_owned()).expect("server name");
        let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(stream))
            .await
            .expect("h2 handshake");
        tokio::spawn(conn);
        let req = hyper::Request::get(format!("https://{}{path}", gw.host()))
            .header("authorization", authorization)
            .body(Empty::<bytes::Bytes>::new())
            .expect("request");
        send.send_request(req)
            .await
            .map_or(0, |r| r.status().as_u16())
    })
}

/// The 64 KiB limit holds on HTTP/2 as on HTTP/1.1, although h2's default header list limit is
/// 64 KiB in all: a 64 KiB header reaches the acceptor (401, reason `malformed`), a larger one
/// gets 431 from the gateway.
#[test]
fn http2_accepts_authorization_headers_up_to_64_kib() {
    let gw = tls_gateway("tls-h2-64k");
    let b64 = 65_536 - "Negotiate ".len();
    let exactly_64k = format!("Negotiate {}", "A".repeat(b64 - b64 % 4));
    assert_eq!(h2_get(&gw, "/big", &exactly_64k), 401);

    let over = format!("Negotiate {}", "A".repeat(70_000));
    assert_eq!(h2_get(&gw, "/big", &over), 431);

    let m = gw.metrics();
    let failures = |reason: &str| {
        m.value(
            "iwagw_spnego_handshakes_total",
            &[("reason", reason), ("result", "failure")],
        )
    };
    assert_eq!(failures("malformed"), Some(1.0));
    assert_eq!(failures("header_too_large"), Some(1.0));
}
