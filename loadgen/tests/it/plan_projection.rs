//! `loadgen plan`: the projection from a small run predicts a run 10× larger (memory and
//! identity-provider requests/s within 10%), for a multi-tenant daemon and for web-app
//! users; the capacity keys of report.json; bad input exits 2 naming the problem and where.

use std::path::Path;

use serde_json::Value;

use super::report_schema::validate;
use super::support::{heavy, loadgen, read_json};

/// Tokens live 360 s (usable 60 s with MSAL's 5-minute buffer): ten virtual minutes see
/// about seven refreshes per token, so where in its cycle a token starts matters little.
/// Speed 30 (not 60: steadier on a loaded machine); each token is asked about every 40 s.
fn daemon(tenants: u64, rate: u64) -> String {
    format!(
        "name: plan-daemon-{tenants}
seed: 1
duration: 10m
clock: {{ speed: 30 }}
populate: true
authority: {{ embedded: {{ token_lifetime: 360s, signing: es256 }} }}
cache: {{ l2: {{ store: memory }} }}
workload:
  - name: daemon
    flow: client_credentials
    tenants: {{ count: {tenants}, pick: uniform }}
    resources: [api://graph/.default, api://sharepoint/.default]
    arrival: {{ rate: {rate}/s }}
"
    )
}

fn web_app(users: u64, rate: u64) -> String {
    format!(
        "name: plan-web-{users}
seed: 1
duration: 10m
clock: {{ speed: 30 }}
populate: true
authority: {{ embedded: {{ token_lifetime: 360s, signing: es256 }} }}
cache: {{ l2: {{ store: memory }} }}
workload:
  - name: web
    flow: web_app
    users: {{ count: {users}, tenants: 5, pick: uniform }}
    resources: [api://graph/.default, api://files/.default, api://mail/.default]
    arrival: {{ rate: {rate}/s }}
"
    )
}

/// Runs a scenario text with the binary; returns its report (checked against the schema).
fn run(dir: &Path, name: &str, text: &str) -> Value {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, text).unwrap();
    let out = dir.join(name);
    let (code, stdout, stderr) = loadgen(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{name}: {stdout}\n{stderr}");
    let r = read_json(&out.join("report.json"));
    validate(&r);
    // A run that could not keep up measured something else than its scenario.
    assert_eq!(
        r["acquisitions"]["dropped_iterations"], 0,
        "{name}: the run dropped arrivals (machine overloaded?)"
    );
    r
}

fn plan_json(report: &Path, flags: &[&str]) -> Value {
    let mut args = vec!["plan", "--from", report.to_str().unwrap(), "--json"];
    args.extend_from_slice(flags);
    let (code, stdout, stderr) = loadgen(&args);
    assert_eq!(code, 0, "plan: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("plan --json: {e}\n{stdout}"))
}

fn f(v: &Value, ptr: &str) -> f64 {
    v.pointer(ptr)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{ptr} missing in {v}"))
}

fn within(what: &str, projected: f64, measured: f64, tol: f64) {
    let dev = (projected - measured).abs() / measured;
    assert!(
        dev <= tol,
        "{what}: projected {projected}, measured {measured} ({:.1}% off, > {:.0}%)",
        dev * 100.0,
        tol * 100.0
    );
}

/// The small run's projection onto the big run's population, against the big run.
fn check_projection(small: &Path, big: &Value, flags: &[&str]) -> Value {
    let plan = plan_json(small, flags);
    within(
        "L1 bytes",
        f(&plan, "/total/l1_bytes"),
        f(big, "/memory/peak/l1_bytes"),
        0.10,
    );
    within(
        "L2 bytes",
        f(&plan, "/total/l2_bytes"),
        f(big, "/memory/peak/l2_bytes"),
        0.10,
    );
    within(
        "IdP requests/s",
        f(&plan, "/total/identity_provider_requests_per_s"),
        f(big, "/identity_provider/requests") / f(big, "/run/virtual_seconds"),
        0.10,
    );
    within(
        "requests/s",
        f(&plan, "/total/requests_per_s"),
        f(big, "/throughput/acquisitions_per_virtual_second"),
        0.10,
    );
    assert_eq!(
        plan["warnings"],
        serde_json::json!([]),
        "{}",
        plan["warnings"]
    );
    // The self-check reproduces the small run itself.
    for c in plan["self_check"].as_array().unwrap() {
        let d = c["deviation"].as_f64().unwrap_or(0.0);
        assert!(d.abs() < 0.05, "self-check {c}");
    }
    plan
}

#[test]
fn a_100_tenant_daemon_run_predicts_a_1000_tenant_run_within_10_percent() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let small = run(dir.path(), "small", &daemon(100, 5));
    let big = run(dir.path(), "big", &daemon(1000, 50));
    // The capacity keys the plan reads.
    let bpp = &small["memory"]["bytes_per_partition"]["client_credentials"];
    assert_eq!(bpp["partitions"], 100, "{bpp}");
    let l1 = bpp["l1"].as_f64().unwrap();
    assert!(l1 > 500.0 && l1 < 20_000.0, "{bpp}");
    assert_eq!(small["memory"]["populate"].as_array().unwrap().len(), 1);
    assert!(small["memory"]["growth_per_1000_partitions"]["l1_bytes"].as_f64() > Some(0.0));
    let grants = &small["identity_provider"]["by_grant_type"];
    assert_eq!(
        grants["client_credentials"], small["identity_provider"]["requests"],
        "{grants}"
    );
    assert_eq!(small["capacity"]["token_lifetime_s"], 360.0);

    let plan = check_projection(
        &dir.path().join("small/report.json"),
        &big,
        &["--tenants", "1000"],
    );
    let ms = plan["microsoft"].as_array().unwrap();
    assert!(ms.iter().any(|m| m["figure"] == "app token (L1)"), "{ms:?}");
}

#[test]
fn a_50_user_web_app_run_predicts_a_500_user_run_within_10_percent() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let _small = run(dir.path(), "small", &web_app(50, 5));
    let big = run(dir.path(), "big", &web_app(500, 50));
    let plan = check_projection(
        &dir.path().join("small/report.json"),
        &big,
        &["--users", "500"],
    );
    let ms = plan["microsoft"].as_array().unwrap();
    assert!(
        ms.iter()
            .any(|m| m["figure"].as_str().unwrap().starts_with("web-app user")),
        "{ms:?}"
    );
}

/// A report of a short run with populate; 303 s tokens (usable 3 s) so it sees misses.
fn tiny_report(dir: &Path) -> std::path::PathBuf {
    let text = daemon(4, 2)
        .replace("duration: 10m", "duration: 20s")
        .replace("token_lifetime: 360s", "token_lifetime: 303s")
        .replace("speed: 30", "speed: 60");
    run(dir, "tiny", &text);
    dir.join("tiny/report.json")
}

#[test]
fn plan_reads_a_target_file_and_flags_override_it_and_the_formulas_show_the_measured_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let report = tiny_report(dir.path());
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        "tenants: 40\nresources: 4\ntoken_lifetime: 14m\nrate: 80/s\n",
    )
    .unwrap();
    let plan = plan_json(
        &report,
        &["--target", target.to_str().unwrap(), "--tenants", "400"],
    );
    assert_eq!(plan["target"]["tenants"], 400);
    assert_eq!(plan["target"]["resources"], 4);
    let cc = &plan["flows"]["client_credentials"];
    assert_eq!(cc["partitions"], 400.0);
    assert_eq!(cc["requests_per_s"], 80.0);
    // 20 s with a refresh period of 3 s: no warning.
    assert_eq!(plan["warnings"], serde_json::json!([]));
    // 4 resources instead of 2: twice the measured bytes per partition.
    let bpp = f(cc, "/measured/l1_bytes_per_partition");
    within("L1 bytes", f(cc, "/l1_bytes"), 400.0 * bpp * 2.0, 0.01);
    // 840 s tokens instead of 303 s: refreshed every 540 s instead of every 3 s (MSAL's
    // 5-minute buffer), so fewer IdP requests per acquisition, in proportion.
    assert_eq!(plan["measured_refresh_period_s"], 3.0);
    assert_eq!(plan["refresh_period_s"], 540.0);
    let miss = f(cc, "/measured/idp_requests_per_acquisition");
    assert!(miss > 0.0, "{cc}");
    within(
        "IdP requests/s",
        f(cc, "/identity_provider_requests_per_s"),
        80.0 * miss * 3.0 / 540.0,
        0.01,
    );
    let (code, text, _) = loadgen(&[
        "plan",
        "--from",
        report.to_str().unwrap(),
        "--tenants",
        "400",
    ]);
    assert_eq!(code, 0);
    assert!(
        text.contains("tenants × partitions per tenant = 400"),
        "{text}"
    );
    assert!(text.contains("B/partition (measured)"), "{text}");
    assert!(text.contains("Self-check"), "{text}");
    assert!(text.contains("2–3 KB per app token"), "{text}");

    // A run shorter than two refresh periods (420 s tokens: 120 s) gets a warning.
    let short = daemon(4, 2)
        .replace("duration: 10m", "duration: 20s")
        .replace("token_lifetime: 360s", "token_lifetime: 420s")
        .replace("speed: 30", "speed: 60");
    run(dir.path(), "short", &short);
    let plan = plan_json(&dir.path().join("short/report.json"), &[]);
    let w = plan["warnings"][0].as_str().unwrap_or_default();
    assert!(
        w.contains("less than two refresh periods (120 s"),
        "{}",
        plan["warnings"]
    );
    // That run made no identity-provider request after populate: its rates print as 0,
    // never as "-0.00" (an empty f64 sum is negative zero).
    assert_eq!(
        plan["flows"]["client_credentials"]["identity_provider_requests_per_s"],
        0.0
    );
    let short_report = dir.path().join("short/report.json");
    let (code, text, _) = loadgen(&["plan", "--from", short_report.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("-0.0"), "{text}");
}

#[test]
fn plan_rejects_bad_input_with_exit_2_naming_the_problem_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let report = tiny_report(dir.path());
    let from = report.to_str().unwrap();
    let target = dir.path().join("bad.yaml");
    std::fs::write(&target, "tenants: 10\ntenant: 3\nrate: fast\n").unwrap();
    let (code, _, err) = loadgen(&["plan", "--from", from, "--target", target.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.yaml:2:1") && err.contains("did you mean \"tenants\""),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:3:7") && err.contains("rate"),
        "{err}"
    );

    let (code, _, err) = loadgen(&["plan", "--from", from, "--tenants", "many"]);
    assert_eq!(code, 2);
    assert!(err.contains("--tenants \"many\""), "{err}");
    let (code, _, err) = loadgen(&["plan", "--from", from, "--token-lifetime", "0s"]);
    assert_eq!(code, 2);
    assert!(err.contains("--token-lifetime"), "{err}");

    let missing = dir.path().join("nope.json");
    let (code, _, err) = loadgen(&["plan", "--from", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("nope.json"), "{err}");

    // A run without populate has no capacity inputs.
    let text = daemon(4, 2)
        .replace("populate: true", "populate: false")
        .replace("duration: 10m", "duration: 2s")
        .replace("speed: 30", "speed: 60");
    let r = run(dir.path(), "nopop", &text);
    assert!(r["capacity"].is_null());
    let nopop = dir.path().join("nopop/report.json");
    let (code, _, err) = loadgen(&["plan", "--from", nopop.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("populate: true"), "{err}");
}
