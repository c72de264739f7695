//! Virtual time changes how long a run takes, not what happens in it: the identity-provider
//! calls and refresh reasons of a short scenario are the same at speed 1 and speed 60.

use super::support::{heavy, run_text};

/// Tokens live 303 s, so with MSAL's 5-minute buffer they are usable for 3 s. Two tenants
/// in turn at 1/s (arrivals mid-second): each tenant is asked at t, t+2 (hit), t+4 (expired).
fn scenario(speed: u32) -> String {
    format!(
        "name: speed-invariance
seed: 7
duration: 6s
clock: {{ speed: {speed} }}
authority: {{ embedded: {{ token_lifetime: 303s, signing: es256 }} }}
workload:
  - name: daemon
    flow: client_credentials
    tenants: {{ count: 2, pick: round_robin }}
    resources: [api://x/.default]
    arrival: {{ rate: 1/s }}
"
    )
}

#[test]
fn identity_provider_calls_and_refresh_reasons_do_not_depend_on_the_clock_speed() {
    let _turn = heavy();
    let mut seen = Vec::new();
    for speed in [1, 60] {
        let t0 = std::time::Instant::now();
        let (_, out) = run_text(&scenario(speed));
        let wall = t0.elapsed().as_secs_f64();
        let c = &out.workloads[0].counts;
        seen.push((
            out.idp_by_status.clone(),
            c.reason,
            c.acquisitions,
            c.failed,
        ));
        if speed == 60 {
            assert!(wall < 4.0, "speed 60 took {wall} s");
        } else {
            assert!(wall >= 6.0, "speed 1 took {wall} s");
        }
    }
    assert_eq!(seen[0], seen[1], "speed 1 vs speed 60");
    let (idp, reasons, n, failed) = &seen[0];
    assert_eq!((*n, *failed), (6, 0));
    assert_eq!(idp.get("200"), Some(&4), "{idp:?}");
    // not_applicable, no_cached_access_token, expired, proactively_refreshed, force, disabled
    assert_eq!(*reasons, [2, 2, 2, 0, 0, 0]);
}
