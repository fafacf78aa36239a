//! TLS certificates for the gateway's TLS listener, signed by the test DC's CA, and the
//! channel bindings a client derives from one.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use crate::ad::ad;
use crate::process::{run, stderr_of, Scratch};
use crate::rng::random_bytes;

/// A key and a certificate for `host` signed by the test DC's CA, as `tls.key`/`tls.pem`.
pub(crate) fn make_tls_cert(dir: &Scratch, host: &str) {
    let ca = ad().path("IWA_AD_CA");
    let ca_key = ad().path("IWA_AD_STATE").join("tls/ca.key");
    let ext = dir.write(
        "tls.ext",
        format!(
            "subjectAltName = DNS:{host}\nextendedKeyUsage = serverAuth\n\
             keyUsage = critical, digitalSignature\nbasicConstraints = CA:FALSE\n"
        )
        .as_bytes(),
        0o600,
    );
    let mut req = Command::new("openssl");
    req.args([
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
    ])
    .args(["-nodes", "-subj", &format!("/CN={host}"), "-keyout"])
    .arg(dir.join("tls.key"))
    .arg("-out")
    .arg(dir.join("tls.csr"));
    let out = run(req, "openssl req");
    assert!(out.status.success(), "openssl req: {}", stderr_of(&out));
    let serial = format!("0x{}", hex_string(&random_bytes(8)));
    let mut sign = Command::new("openssl");
    sign.args([
        "x509",
        "-req",
        "-sha256",
        "-days",
        "2",
        "-set_serial",
        &serial,
        "-in",
    ])
    .arg(dir.join("tls.csr"))
    .arg("-CA")
    .arg(&ca)
    .arg("-CAkey")
    .arg(&ca_key)
    .arg("-extfile")
    .arg(&ext)
    .arg("-out")
    .arg(dir.join("tls.pem"));
    let out = run(sign, "openssl x509 -req");
    assert!(
        out.status.success(),
        "signing the gateway certificate with {}: {}",
        ca_key.display(),
        stderr_of(&out)
    );
    std::fs::set_permissions(dir.join("tls.key"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod tls.key");
}

/// The channel-binding application data a browser sends over HTTPS to a server with the
/// certificate in `pem` (RFC 5929 §4.1 `tls-server-end-point`: SHA-256 of the DER certificate,
/// right for the SHA-256 signatures of our test certificates).
pub fn tls_server_end_point(pem: &Path) -> Vec<u8> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("openssl x509 -in \"$1\" -outform der | openssl dgst -sha256 -binary")
        .arg("sh")
        .arg(pem);
    let out = run(cmd, "openssl (certificate hash)");
    assert!(
        out.status.success() && out.stdout.len() == 32,
        "hash of {}: {}",
        pem.display(),
        stderr_of(&out)
    );
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend_from_slice(&out.stdout);
    data
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
