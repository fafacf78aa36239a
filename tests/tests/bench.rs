//! Issue 5 §4: tokens minted by `iwa-bench mint --keytab` with the test AD's real keytab are
//! accepted by MIT's acceptor (libgssapi, `iwa-mit-accept`) and by a running gateway, each once;
//! and the tool refuses to mint without its explicit flag.

use std::io::Write as _;
use std::process::{Command, Stdio};

use e2e::{ad, bench_bin, e2e_bin, http_get, Gateway, GatewayOptions, Scratch};

fn mint(dir: &Scratch, args: &[&str]) -> std::process::Output {
    Command::new(bench_bin())
        .arg("mint")
        .arg("--keytab")
        .arg(ad().path("IWA_AD_GW_KEYTAB"))
        .args(["--spn", "HTTP/gw.corp.test@CORP.TEST", "--out"])
        .arg(dir.join("tokens.txt"))
        .args(args)
        .output()
        .expect("iwa-bench runs")
}

fn tokens(dir: &Scratch) -> Vec<String> {
    std::fs::read_to_string(dir.join("tokens.txt"))
        .expect("the token file")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn minted_tokens_are_accepted_by_mit_and_by_the_gateway_once_each() {
    let gw = Gateway::start("bench-mint", &GatewayOptions::gw());
    let dir = gw.dir();
    let out = mint(
        dir,
        &[
            "--users",
            "alice,bob",
            "--count",
            "5",
            "--groups",
            "40",
            "--i-understand-this-forges-tickets",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tokens = tokens(dir);
    assert_eq!(tokens.len(), 10);

    // MIT's acceptor, with the same keytab.
    let mut mit = Command::new(e2e_bin("iwa-mit-accept"))
        .env("KRB5_KTNAME", ad().path("IWA_AD_GW_KEYTAB"))
        .env("KRB5_CONFIG", ad().krb5_config())
        .env("KRB5RCACHETYPE", "none")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("iwa-mit-accept runs");
    {
        let mut stdin = mit.stdin.take().expect("stdin");
        for t in &tokens {
            writeln!(stdin, "{t}").expect("write a token");
        }
    }
    let verdicts =
        String::from_utf8(mit.wait_with_output().expect("iwa-mit-accept").stdout).expect("UTF-8");
    let accepted: Vec<&str> = verdicts
        .lines()
        .filter(|l| l.starts_with("accept "))
        .collect();
    assert_eq!(accepted.len(), 10, "{verdicts}");
    assert_eq!(
        accepted
            .iter()
            .filter(|l| l.contains("alice@CORP.TEST"))
            .count(),
        5
    );

    // The gateway: each token signs its user in, once.
    for (i, t) in tokens.iter().enumerate() {
        let auth = format!("Negotiate {t}");
        let r = http_get(
            gw.http_addr(),
            "/app/",
            &[("Host", "gw.corp.test"), ("Authorization", &auth)],
        )
        .expect("GET");
        assert_eq!(r.status, 200, "token {i}: {r:?}\n{}", gw.log());
        let user = if i < 5 {
            "alice@CORP.TEST"
        } else {
            "bob@CORP.TEST"
        };
        assert_eq!(r.echo().header("x-remote-user"), [user]);
    }
    let again = format!("Negotiate {}", tokens[0]);
    let r = http_get(
        gw.http_addr(),
        "/app/",
        &[("Host", "gw.corp.test"), ("Authorization", &again)],
    )
    .expect("GET");
    assert_eq!(r.status, 401, "a replayed token: {r:?}");

    // inspect reads it back.
    let out = Command::new(bench_bin())
        .arg("inspect")
        .arg(dir.join("tokens.txt"))
        .output()
        .expect("inspect");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tokens:      10") && text.contains("state:       valid"),
        "{text}"
    );
}

#[test]
fn minting_needs_its_explicit_flag() {
    let dir = Scratch::new("bench-flag");
    let out = mint(&dir, &["--users", "alice", "--count", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--i-understand-this-forges-tickets"));
    assert!(!dir.join("tokens.txt").exists());
}
