//! The harness for the end-to-end tests in `tests/tests/`: the built `iwa-gateway` between real
//! clients (curl, `iwa-negotiate` on MIT GSSAPI, headless Chromium) and the `iwa-echo` upstream,
//! with tickets from the throw-away Samba AD DC of `tests/ad/samba-ad.sh`.
//!
//! ```text
//! tests/ad/samba-ad.sh up && cargo build -p gateway -p e2e && cargo test -p e2e
//! ```
//!
//! Each test starts its own [`Gateway`] (and upstream) on free loopback ports, with a
//! configuration and a copy of the keytab in its own scratch directory; dropping it kills both
//! processes. When a test fails the directory is kept and the end of the gateway log is printed.
//!
//! Tests run on parallel threads, so nothing here changes process-wide state: Kerberos settings
//! (`KRB5_CONFIG`, `KRB5CCNAME`) are given to each child process only, and every test gets its
//! own credential caches (never the shared `<state>/ccache/USER` files).
//!
//! | module | what |
//! | --- | --- |
//! | `ad` | the DC's settings, `kinit` into private ccaches, key rotation |
//! | `process` | binary paths, scratch directories, child processes with timeouts |
//! | `gateway` | the [`Gateway`] fixture, its upstream and its configuration |
//! | `http`, `curl` | the plain client, curl, and their [`Reply`] |
//! | `negotiate` | fresh tokens from `iwa-negotiate`, and the ticket inside one |
//! | `metrics` | `/metrics` scrapes and the audit log |
//! | `chromium` | headless Chromium |
//! | `tls` | certificates signed by the DC's CA, channel bindings |
//! | `rng` | OS randomness, and a deterministic [`Counter`] for kdc-bridge's acceptor |

mod ad;
mod chromium;
mod curl;
mod gateway;
mod http;
mod metrics;
mod negotiate;
mod process;
mod rng;
mod tls;

pub use serde_json::Value;

pub use crate::ad::{ad, Ad, Ccache, Kinit, REALM};
pub use crate::chromium::{spki_hash, Chromium, ChromiumRun, CHROMIUM};
pub use crate::curl::Curl;
pub use crate::gateway::{real_dc, real_dc2, Gateway, GatewayOptions, NegotiateGet};
pub use crate::http::{http_get, Echoed, Reply};
pub use crate::metrics::Metrics;
pub use crate::negotiate::{
    bound_tokens, decode_token, encode_token, tamper_ticket_cipher, ticket_cipher_range, tokens,
    NTLM_NEGOTIATE,
};
pub use crate::process::{
    bench_bin, e2e_bin, free_ports, gateway_bin, wait_until, workspace_root, Scratch,
};
pub use crate::rng::Counter;
pub use crate::tls::tls_server_end_point;
