//! Ctrl-C (SIGINT) ends the run early and still writes the report for what ran.

use std::process::Command;
use std::time::Duration;

use super::support::{heavy, read_json, repo};

#[test]
fn an_interrupted_run_still_writes_its_report() {
    let _turn = heavy();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "scenarios/quickstart.yaml", "--out"])
        .arg(dir.path())
        .args([
            "--set",
            "duration=1h",
            "--set",
            "workload[0].arrival.rate=50/s",
        ])
        .current_dir(repo())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn loadgen");
    std::thread::sleep(Duration::from_millis(2500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stdout.contains("INTERRUPTED"), "{stdout}");
    let code = out.status.code();
    assert!(matches!(code, Some(0 | 99)), "{code:?}\n{stdout}{stderr}");
    let r = read_json(&dir.path().join("report.json"));
    super::report_schema::validate(&r);
    assert_eq!(r["run"]["interrupted"], true);
    let virt = r["run"]["virtual_seconds"].as_f64().unwrap();
    assert!(virt > 10.0 && virt < 3600.0, "{virt}");
    assert!(r["acquisitions"]["total"].as_u64().unwrap() > 100);
}
