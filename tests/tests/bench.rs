//! Issue 5 §4: tokens minted by `iwa-bench mint --keytab` (with the test AD's real keytab) and
//! by `mint --kdc` (real tickets from the AD's KDC) are accepted by MIT's acceptor (libgssapi,
//! `iwa-mit-accept`) and by a running gateway, each once; the tool refuses to mint offline
//! without its explicit flag; `run`, `compare` and `idle` drive a real gateway with each
//! scenario and report what it answered.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use e2e::{
    ad, bench_bin, e2e_bin, http_get, real_dc, workspace_root, Gateway, GatewayOptions, Scratch,
};
use serde_json::Value;

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

/// MIT's verdict on each token (`iwa-mit-accept`, the test AD's keytab, no replay cache).
fn mit_accept(tokens: &[String]) -> String {
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
        for t in tokens {
            writeln!(stdin, "{t}").expect("write a token");
        }
    }
    String::from_utf8(mit.wait_with_output().expect("iwa-mit-accept").stdout).expect("UTF-8")
}

fn bench(args: &[&str]) -> Output {
    let out = Command::new(bench_bin())
        .args(args)
        .output()
        .expect("iwa-bench runs");
    assert!(
        out.status.success(),
        "iwa-bench {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the JSON report")).expect("JSON")
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
    let verdicts = mit_accept(&tokens);
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

#[test]
fn kdc_minted_tokens_are_accepted_by_mit_and_by_the_gateway() {
    let gw = Gateway::start("bench-kdc", &GatewayOptions::gw());
    let dir = gw.dir();
    let pw = dir.write(
        "users.txt",
        format!(
            "# bench users\nalice:{}\nbob:{}\n",
            ad().var("IWA_AD_PW_ALICE"),
            ad().var("IWA_AD_PW_BOB")
        )
        .as_bytes(),
        0o600,
    );
    let mint_kdc = |format: &str, out: &str| {
        let out = Command::new(bench_bin())
            .args([
                "mint",
                "--kdc",
                "--spn",
                "HTTP/gw.corp.test@CORP.TEST",
                "--count",
                "3",
            ])
            .args(["--format", format])
            .arg("--password-file")
            .arg(&pw)
            .arg("--out")
            .arg(dir.join(out))
            // The AD's KDC; no ccache of the machine is read or written.
            .env("KRB5_CONFIG", ad().krb5_config())
            .env(
                "KRB5CCNAME",
                format!("FILE:{}", dir.join("unused.ccache").display()),
            )
            .output()
            .expect("iwa-bench runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    mint_kdc("spnego", "kdc.txt");
    mint_kdc("raw", "kdc-raw.txt");
    let read = |name: &str| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join(name)).expect("token file");
        assert!(text.contains("# source: kdc"), "{text}");
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    let (spnego, raw) = (read("kdc.txt"), read("kdc-raw.txt"));
    assert_eq!((spnego.len(), raw.len()), (6, 6));
    let all: Vec<String> = spnego.iter().chain(&raw).cloned().collect();
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 12, "every token is a new authenticator");

    let verdicts = mit_accept(&all);
    let accepted = verdicts
        .lines()
        .filter(|l| l.starts_with("accept "))
        .count();
    assert_eq!(accepted, 12, "{verdicts}");
    assert!(verdicts.contains("bob@CORP.TEST"), "{verdicts}");

    // The gateway, through `iwa-bench run`: every request signed in.
    let report = dir.join("kdc.json");
    let url = format!("http://gw.corp.test:{}/app/", gw.http_addr().port());
    for file in ["kdc.txt", "kdc-raw.txt"] {
        bench(&[
            "run",
            "--url",
            &url,
            "--connect",
            &gw.http_addr().to_string(),
            "--tokens",
            dir.join(file).to_str().expect("path"),
            "--requests",
            "6",
            "--connections",
            "2",
            "--warmup",
            "0",
            "--quiet",
            "--json",
            report.to_str().expect("path"),
        ]);
        let r = json(&report);
        assert_eq!(
            (r["requests"].as_u64(), r["ok"].as_u64()),
            (Some(6), Some(6)),
            "{r}\n{}",
            gw.log()
        );
    }
}

#[test]
fn run_drives_the_gateway_with_each_scenario() {
    let mut opts = GatewayOptions::gw().with_directory(&[real_dc()], &[]);
    let vectors = workspace_root().join("gateway/tests/vectors/saml");
    opts.files.push((
        "saml.key".into(),
        std::fs::read(vectors.join("idp.key")).expect("idp.key"),
    ));
    opts.extra = vec![
        "[saml]".into(),
        "base_url = \"https://gw.corp.test\"".into(),
        "signing_key = \"saml.key\"".into(),
        format!("signing_cert = \"{}\"", vectors.join("idp.pem").display()),
        "[[saml.service_providers]]".into(),
        "entity_id = \"https://bench-sp.example/metadata\"".into(),
        "acs = [{ url = \"https://bench-sp.example/acs\" }]".into(),
        "name_id = { source = \"upn\" }".into(),
    ];
    let gw = Gateway::start("bench-run", &opts);
    let dir = gw.dir();
    // A token file per run: a token is accepted once.
    let mint_file = |name: &str, per_user: usize| -> String {
        let out = mint(
            dir,
            &[
                "--users",
                "alice,bob",
                "--count",
                &per_user.to_string(),
                "--groups",
                "10",
                "--i-understand-this-forges-tickets",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = dir.join(name);
        std::fs::rename(dir.join("tokens.txt"), &path).expect("rename");
        path.to_str().expect("path").to_owned()
    };
    let addr = gw.http_addr().to_string();
    let port = gw.http_addr().port();
    let pid = gw.pid().to_string();
    let report = dir.join("run.json");
    let report_s = report.to_str().expect("path");
    let md = dir.join("runs.md");
    let chart = dir.join("run.svg");
    let run = |url: &str, tokens: &str, extra: &[&str]| -> Value {
        let mut args = vec![
            "run",
            "--url",
            url,
            "--connect",
            &addr,
            "--tokens",
            tokens,
            "--warmup",
            "0",
            "--quiet",
            "--server-pid",
            &pid,
            "--json",
            report_s,
            "--markdown",
            md.to_str().expect("path"),
        ];
        args.extend_from_slice(extra);
        bench(&args);
        json(&report)
    };
    let app = format!("http://gw.corp.test:{port}/app/");

    // negotiate: a new token per request, every one signed in; the gateway's CPU is measured.
    let negotiate = mint_file("negotiate.txt", 75);
    let r = run(
        &app,
        &negotiate,
        &[
            "--requests",
            "150",
            "--connections",
            "4",
            "--chart",
            chart.to_str().expect("path"),
        ],
    );
    assert_eq!(
        (r["requests"].as_u64(), r["ok"].as_u64()),
        (Some(150), Some(150)),
        "{r}\n{}",
        gw.log()
    );
    assert_eq!(r["auth"]["negotiate"].as_u64(), Some(150));
    assert_eq!(r["tokens_used"].as_u64(), Some(150));
    assert!(
        r["server"]["cpu_s"].as_f64().expect("server CPU") > 0.0,
        "{r}"
    );
    let svg = std::fs::read_to_string(&chart).expect("the chart");
    assert!(
        svg.starts_with("<svg") && svg.contains("requests/s"),
        "{svg:.200}"
    );

    // The same file again: its first 150 tokens were used, the gateway refuses the replays
    // and the report says so.
    let r = run(
        &app,
        &negotiate,
        &["--requests", "20", "--connections", "2"],
    );
    assert_eq!(r["statuses"]["401"].as_u64(), Some(20), "{r}");
    assert_eq!(r["ok"].as_u64(), Some(0));

    // session: one Negotiate per connection, then the cookie.
    let session = mint_file("session.txt", 2);
    let r = run(
        &app,
        &session,
        &[
            "--scenario",
            "session",
            "--requests",
            "100",
            "--connections",
            "4",
        ],
    );
    assert_eq!(r["ok"].as_u64(), Some(100), "{r}");
    assert_eq!(
        (
            r["auth"]["negotiate"].as_u64(),
            r["auth"]["cookie"].as_u64()
        ),
        (Some(4), Some(96)),
        "{r}"
    );

    // plain on a public route, and saml-sso: the SP-initiated round trip.
    let saml = mint_file("saml.txt", 10);
    let r = run(
        &format!("http://gw.corp.test:{port}/public/"),
        &saml,
        &["--scenario", "plain", "--requests", "50"],
    );
    assert_eq!(r["ok"].as_u64(), Some(50), "{r}");
    let r = run(
        &format!("http://gw.corp.test:{port}/saml/sso"),
        &saml,
        &[
            "--scenario",
            "saml-sso",
            "--requests",
            "20",
            "--connections",
            "2",
            "--saml-issuer",
            "https://bench-sp.example/metadata",
        ],
    );
    assert_eq!(
        (r["ok"].as_u64(), r["check_failures"].as_u64()),
        (Some(20), Some(0)),
        "{r}\n{}",
        gw.log()
    );

    // mixed, by weight.
    let mixed = mint_file("mixed.txt", 40);
    let r = run(
        &app,
        &mixed,
        &[
            "--scenario",
            "mixed",
            "--mix",
            "negotiate=3,session=1",
            "--requests",
            "80",
            "--connections",
            "2",
        ],
    );
    assert_eq!(r["ok"].as_u64(), Some(80), "{r}");
    assert_eq!(r["scenario"].as_str(), Some("mixed(negotiate=3,session=1)"));
    let table = std::fs::read_to_string(&md).expect("markdown");
    assert_eq!(
        table.lines().filter(|l| l.starts_with("| ")).count(),
        1 + 6,
        "{table}"
    );

    // compare: A B A B over the same token file, each token once across the four runs.
    let cmp = dir.join("compare.json");
    let tokens = mint_file("compare.txt", 60);
    let out = bench(&[
        "compare",
        "--a",
        &app,
        "--b",
        &format!("http://gw.corp.test:{port}/app/x"),
        "--connect",
        &addr,
        "--tokens",
        &tokens,
        "--rounds",
        "2",
        "--requests",
        "30",
        "--connections",
        "2",
        "--warmup",
        "0",
        "--quiet",
        "--a-pid",
        &pid,
        "--b-pid",
        &pid,
        "--json",
        cmp.to_str().expect("path"),
    ]);
    let c = json(&cmp);
    assert_eq!(c["pairs"].as_array().map(Vec::len), Some(2), "{c}");
    assert_eq!(c["runs"].as_array().map(Vec::len), Some(4));
    for run in c["runs"].as_array().expect("runs") {
        assert_eq!(run["ok"].as_u64(), Some(30), "{run}");
    }
    assert!(c["median_rps_ratio"].as_f64().expect("ratio") > 0.0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Median req/s ratio"));

    // idle: keep-alive connections held open, the gateway's memory read.
    let idle = dir.join("idle.json");
    bench(&[
        "idle",
        "--url",
        &format!("http://gw.corp.test:{port}/public/"),
        "--connect",
        &addr,
        "--connections",
        "50",
        "--hold",
        "0.5",
        "--server-pid",
        &pid,
        "--json",
        idle.to_str().expect("path"),
    ]);
    let i = json(&idle);
    assert_eq!(
        (i["open"].as_u64(), i["open_after_hold"].as_u64()),
        (Some(50), Some(50)),
        "{i}"
    );
    assert!(
        i["rss_open_bytes"].as_u64().expect("rss") > 1_000_000,
        "{i}"
    );
}
