//! Issue 5 §4: `bench/run-comparison` runs in the suite in its short mode (a couple of seconds
//! per target), against the real Apache httpd + mod_auth_gssapi, the gateway and the test AD,
//! so the script cannot rot.

use std::process::Command;

use e2e::{ad, bench_bin, workspace_root, Scratch};

#[test]
fn run_comparison_short_mode_measures_apache_and_the_gateway() {
    // The AD is the suite's; the script must leave it running.
    let _ = ad();
    let dir = Scratch::new("bench-comparison");
    // Apache's workers run as nobody (the suite runs as root in CI): the state directory must
    // be reachable by them, which a 0700 scratch directory is not.
    let state = workspace_root().join("target/iwa-state/bench-comparison-e2e");
    let bin_dir = bench_bin()
        .parent()
        .expect("the binaries' directory")
        .to_owned();
    let results = dir.join("RESULTS.md");
    let out = Command::new(workspace_root().join("bench/run-comparison"))
        .arg("--short")
        .arg("--keep-kdc")
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--state")
        .arg(&state)
        .arg("--out")
        .arg(&results)
        .output()
        .expect("bench/run-comparison runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run-comparison failed:\n{stderr}");

    let md = std::fs::read_to_string(&results).expect("the results");
    assert!(md.starts_with("<!-- run-comparison:begin -->"), "{md}");
    assert!(md.trim_end().ends_with("<!-- run-comparison:end -->"));
    for label in [
        "| ceiling | plain",
        "| apache-plain | plain",
        "| gateway-plain | plain",
        "| apache-negotiate | negotiate",
        "| gateway-negotiate | negotiate",
        "| apache-session | session",
        "| gateway-session | session",
    ] {
        assert!(md.contains(label), "no `{label}` row in:\n{md}");
    }
    assert!(md.contains("mod_auth_gssapi"), "{md}");
    assert!(md.contains("Median req/s ratio"), "{md}");
    assert!(md.contains("| target (issue 5) |"), "{md}");

    // Every run's JSON: real answers from both servers, and the server CPU measured.
    for run in [
        "apache-negotiate",
        "gateway-negotiate",
        "apache-session",
        "gateway-session",
    ] {
        let path = state.join(format!("results/{run}.json"));
        let r: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{run}: {e}")),
        )
        .expect("JSON");
        assert!(r["ok"].as_u64().unwrap_or(0) > 0, "{run}: {r}");
        assert!(r["server"]["cpu_s"].as_f64().is_some(), "{run}: {r}");
    }
    // The script stopped what it started: no process runs from its state directory (Apache
    // and the gateway are started with their configs there).
    assert!(stderr.contains("==> done"), "{stderr}");
    let state = state.to_str().expect("path");
    let left: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(state))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
}

#[test]
fn run_comparison_with_its_own_mit_kdc() {
    // The script's own MIT krb5kdc realm (BENCH.TEST on 127.0.0.31): real tickets from MIT's
    // KDC, whose PACs carry no logon information, must be accepted by both servers (the
    // script fails otherwise), then the short runs.
    let dir = Scratch::new("bench-comparison-mit");
    let state = workspace_root().join("target/iwa-state/bench-comparison-mit-e2e");
    let out = Command::new(workspace_root().join("bench/run-comparison"))
        .args(["--short", "--kdc", "mit", "--bin-dir"])
        .arg(bench_bin().parent().expect("the binaries' directory"))
        .arg("--state")
        .arg(&state)
        .arg("--out")
        .arg(dir.join("RESULTS.md"))
        .output()
        .expect("bench/run-comparison runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "run-comparison --kdc mit failed:\n{stderr}"
    );
    assert!(
        stderr.contains("gateway with real KDC tickets: 20 ok"),
        "{stderr}"
    );
    assert!(
        stderr.contains("apache with real KDC tickets: 20 ok"),
        "{stderr}"
    );
    let md = std::fs::read_to_string(dir.join("RESULTS.md")).expect("the results");
    assert!(md.contains("BENCH.TEST"), "{md}");
}
