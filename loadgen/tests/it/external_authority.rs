//! `authority.url` + `ca_file`: the run talks HTTPS to an external mock authority (here one
//! started in process on a free port) trusting its generated CA; an unreachable L2 fails
//! fast with its URL (exit 1).

use std::sync::Arc;

use mock_authority::{Authority, AuthorityConfig, SystemTimeSource};

use super::support::{heavy, loadgen, runtime};

#[test]
fn a_run_against_an_external_authority_over_https_uses_its_ca_file() {
    let _turn = heavy();
    let rt = runtime();
    rt.block_on(async {
        let authority = Arc::new(
            Authority::new(AuthorityConfig::default(), Arc::new(SystemTimeSource)).unwrap(),
        );
        let server = mock_authority::start_in_process(authority.clone(), true)
            .await
            .unwrap();
        let ca = server.ca_path.clone().expect("CA file");
        let text = format!(
            "name: external
duration: 2s
authority: {{ url: \"{}\", ca_file: \"{}\" }}
workload:
  - name: daemon
    flow: client_credentials
    tenants: {{ count: 5, pick: round_robin }}
    resources: [api://x/.default]
    arrival: {{ rate: 20/s }}
",
            server.base_url,
            ca.display()
        );
        let scn =
            loadgen::scenario::parse("external.yaml", &text, &[]).unwrap_or_else(|e| panic!("{e}"));
        let out = loadgen::run::run(&scn, std::future::pending())
            .await
            .expect("run");
        let c = &out.workloads[0].counts;
        assert_eq!((c.acquisitions, c.failed), (40, 0), "{:?}", c.errors);
        assert_eq!(out.idp_by_status.get("200"), Some(&5));
        assert_eq!(authority.stats().grant_total("client_credentials"), 5);
        assert_eq!(c.source, [35, 5]);
    });
}

#[test]
fn an_unreachable_l2_fails_fast_naming_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redis.yaml");
    std::fs::write(
        &file,
        "name: no-redis
duration: 1s
cache: { l2: { store: redis, url: \"redis://127.0.0.1:1\" } }
workload:
  - { name: d, flow: client_credentials, tenants: { count: 1 }, resources: [api://x/.default], arrival: { rate: 1/s } }
",
    )
    .unwrap();
    let t0 = std::time::Instant::now();
    let (code, _, stderr) = loadgen(&[
        "run",
        &file.display().to_string(),
        "--out",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("redis://127.0.0.1:1"), "{stderr}");
    assert!(t0.elapsed().as_secs() < 15, "took {:?}", t0.elapsed());
}
