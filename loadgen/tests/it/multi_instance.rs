//! Multi-instance runs: a scenario run whole and as 2 instances (`--instance 0/2`, and
//! `--instances 2` with JOB_COMPLETION_INDEX=1) merged with `loadgen merge`: counts add up
//! exactly, the merged percentiles are those of the added histograms, the instances' tenants
//! are disjoint and together the whole run's, and thresholds are re-evaluated globally.

use std::path::Path;
use std::process::Command;

use hdrhistogram::Histogram;

use super::support::{heavy, loadgen, read_json, repo};

/// 40 tenants × 2 APIs picked round robin at 100/s for 20 s of virtual time (2 s of wall
/// time): 2,000 acquisitions and one identity-provider request per tenant × API.
const SCENARIO: &str = r#"
name: fleet
duration: 20s
clock: { speed: 10 }
authority:
  embedded:
    token_lifetime: 1h
    latency: { fixed: 20ms }
cache:
  l1: { max_bytes: 16MiB }
  l2: { store: memory }
workload:
  - name: daemon
    flow: client_credentials
    tenants: { count: 40, pick: round_robin }
    resources: [api://graph/.default, api://sharepoint/.default]
    arrival: { rate: 100/s }
telemetry: { interval: 5s }
thresholds:
  "acquisitions.total": ["count > 1500"]
  "identity_provider.requests": ["count <= 80"]
"#;

fn hlog_total(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("Tag="))
        .map(|l| {
            loadgen::report::observe::interval_histogram(l)
                .expect("interval decodes")
                .len()
        })
        .sum()
}

#[test]
fn two_instances_merged_equal_the_whole_run() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let scn = dir.path().join("fleet.yaml");
    std::fs::write(&scn, SCENARIO).unwrap();
    let scn = scn.display().to_string();
    let out = |n: &str| dir.path().join(n).display().to_string();

    let (code, o, e) = loadgen(&["run", &scn, "--out", &out("whole")]);
    assert_eq!(code, 0, "{o}{e}");
    // Each instance alone fails the global count threshold (about 1,000 of 1,500).
    let (code, o, e) = loadgen(&["run", &scn, "--out", &out("i0"), "--instance", "0/2"]);
    assert_eq!(code, 99, "{o}{e}");
    assert!(o.contains("instance 0/2"), "{o}");
    let run1 = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", &scn, "--out", &out("i1"), "--instances", "2"])
        .env("JOB_COMPLETION_INDEX", "1")
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(run1.status.code(), Some(99), "{run1:?}");

    let whole = read_json(&dir.path().join("whole/report.json"));
    let i0 = read_json(&dir.path().join("i0/report.json"));
    let i1 = read_json(&dir.path().join("i1/report.json"));
    for r in [&i0, &i1] {
        super::report_schema::validate(r);
    }
    assert_eq!(i0["run"]["instance"]["index"], 0);
    assert_eq!(i1["run"]["instance"]["index"], 1);
    assert_eq!(i1["run"]["instance"]["count"], 2);

    let (code, o, e) = loadgen(&[
        "merge",
        &out("merged"),
        &format!("{}/report.json", out("i0")),
        &format!("{}/report.json", out("i1")),
    ]);
    assert_eq!(
        code, 0,
        "the merged run passes the global thresholds\n{o}{e}"
    );
    let m = read_json(&dir.path().join("merged/report.json"));
    super::report_schema::validate(&m);
    assert_eq!(m["run"]["merged_instances"], 2);

    // Counts add up exactly, and the arrivals split exactly: the union is the whole run.
    let n = |r: &serde_json::Value, p: &str| r.pointer(p).and_then(|v| v.as_u64()).unwrap();
    for p in [
        "/acquisitions/total",
        "/token_source/cache",
        "/token_source/identity_provider",
        "/cache_level/l1",
        "/identity_provider/requests",
        "/flows/daemon/acquisitions/total",
    ] {
        assert_eq!(n(&m, p), n(&i0, p) + n(&i1, p), "{p}");
    }
    assert_eq!(n(&m, "/acquisitions/total"), 2000);
    // The merged timeline adds the instances' intervals: every acquisition counted once.
    let sum = |r: &serde_json::Value, k: &str| -> u64 {
        r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t[k].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum(&m, "acquisitions"), 2000);
    assert_eq!(
        sum(&m, "acquisitions"),
        sum(&i0, "acquisitions") + sum(&i1, "acquisitions")
    );
    assert_eq!(n(&whole, "/acquisitions/total"), 2000);
    assert_eq!(n(&i0, "/acquisitions/total"), 1000);
    // Disjoint tenants covering the population: each instance asks the identity provider
    // once per tenant × API of its own, 40 each, 80 together, as the whole run does.
    assert_eq!(n(&i0, "/identity_provider/requests"), 40);
    assert_eq!(n(&i1, "/identity_provider/requests"), 40);
    assert_eq!(n(&whole, "/identity_provider/requests"), 80);
    assert_eq!(
        n(&m, "/memory/peak/l1_entries"),
        n(&whole, "/memory/peak/l1_entries")
    );

    // The merged percentiles are those of the instances' histograms added.
    let hists = |r: &serde_json::Value| loadgen::report::histograms::decode_all(r).unwrap();
    let (h0, h1, hm) = (hists(&i0), hists(&i1), hists(&m));
    for name in [
        "total",
        "in_cache",
        "flows.daemon.total",
        "by_cache_level.l1",
    ] {
        let mut added: Histogram<u64> = h0[name].clone();
        added.add(&h1[name]).unwrap();
        assert_eq!(hm[name], added, "{name}");
    }
    let mut added = h0["total"].clone();
    added.add(&h1["total"]).unwrap();
    for (key, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        assert_eq!(
            m["durations_ms"]["total"][key].as_f64().unwrap(),
            added.value_at_quantile(q) as f64 / 1e6,
            "{key}"
        );
    }
    assert_eq!(m["thresholds"][0]["observed"].as_f64(), Some(2000.0));
    assert_eq!(m["thresholds"][0]["pass"], true);

    // The merged interval log holds every acquisition once.
    assert_eq!(hlog_total(&dir.path().join("merged/intervals.hlog")), 2000);
    assert_eq!(
        hlog_total(&dir.path().join("i0/intervals.hlog"))
            + hlog_total(&dir.path().join("i1/intervals.hlog")),
        2000
    );
    for f in [
        "summary.txt",
        "junit.xml",
        "total.hgrm",
        "workload.daemon.token_source.cache.total.hgrm",
    ] {
        assert!(dir.path().join("merged").join(f).exists(), "{f}");
    }
}

#[test]
fn merge_and_instance_reject_bad_input() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, e) = loadgen(&["run", "scenarios/quickstart.yaml", "--instance", "2/2"]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("0..2"), "{e}");
    let (code, _, e) = loadgen(&["run", "scenarios/quickstart.yaml", "--instance", "x"]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("expected I/N"), "{e}");
    let (code, _, e) = loadgen(&["run", "scenarios/quickstart.yaml", "--instance", "0/500"]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("too few"), "{e}");
    let no_index = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "scenarios/quickstart.yaml", "--instances", "2"])
        .env_remove("JOB_COMPLETION_INDEX")
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(no_index.status.code(), Some(2), "{no_index:?}");
    assert!(String::from_utf8_lossy(&no_index.stderr).contains("JOB_COMPLETION_INDEX"));
    // A report that is not an instance, and one without histograms.
    let empty = loadgen::report::histograms::encode(&Histogram::<u64>::new(3).unwrap()).unwrap();
    let plain = dir.path().join("plain.json");
    let text = serde_json::json!({"schema_version": 1, "histograms": {"total": empty}});
    std::fs::write(&plain, text.to_string()).unwrap();
    let merged = dir.path().join("m").display().to_string();
    let (code, _, e) = loadgen(&["merge", &merged, &plain.display().to_string()]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("not an instance"), "{e}");
    let old = dir.path().join("old.json");
    std::fs::write(&old, r#"{"schema_version": 1}"#).unwrap();
    let (code, _, e) = loadgen(&["merge", &merged, &old.display().to_string()]);
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("no histograms"), "{e}");
}
