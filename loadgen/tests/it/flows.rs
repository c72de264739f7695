//! The flows end to end: on-behalf-of callers with assertions minted by the embedded mock,
//! web-app users (sign-in by code, silent refresh, sessions with sign-out), a closed-model
//! workload, and populate (after it every measured acquisition is a cache hit).

use super::support::{heavy, run_text};

#[test]
fn populated_obo_and_daemon_workloads_are_served_from_the_cache() {
    let text = "name: obo-closed
duration: 30s
clock: { speed: 60 }
populate: true
workload:
  - name: api
    flow: on_behalf_of
    users: { count: 20, tenants: 3 }
    resources: [api://downstream/.default, api://other/.default]
    concurrency: 4
  - name: daemon
    flow: client_credentials
    tenants: { count: 10, pick: { zipf: 1.0 } }
    resources: [api://graph/.default]
    arrival: { rate: 50/s }
";
    let _turn = heavy();
    let (_, out) = run_text(text);
    assert_eq!(out.populated, (20 * 2 + 10, 0));
    let api = &out.workloads[0].counts;
    let daemon = &out.workloads[1].counts;
    assert!(api.acquisitions > 100, "{api:?}");
    assert_eq!(api.failed, 0, "{:?}", api.errors);
    assert_eq!(api.source, [api.acquisitions, 0], "all hits after populate");
    assert_eq!(daemon.acquisitions + daemon.dropped, 50 * 30);
    assert_eq!(daemon.source[1], 0);
    assert!(out.idp_by_status.is_empty(), "{:?}", out.idp_by_status);
    assert_eq!(out.cache.l1_hits, api.acquisitions + daemon.acquisitions);
}

#[test]
fn each_obo_caller_gets_its_own_partition_and_one_token_request() {
    let text = "name: obo
duration: 20s
clock: { speed: 60 }
workload:
  - name: api
    flow: on_behalf_of
    users: { count: 5, tenants: 2, pick: round_robin }
    resources: [api://downstream/.default]
    arrival: { rate: 10/s }
";
    let _turn = heavy();
    let (_, out) = run_text(text);
    let c = &out.workloads[0].counts;
    assert_eq!((c.acquisitions, c.failed), (200, 0), "{:?}", c.errors);
    assert_eq!(out.idp_by_status.get("200"), Some(&5));
    // Concurrent first requests for one caller share the one token request (single flight):
    // each of them reports the identity provider as its source.
    assert_eq!(c.source[0] + c.source[1], 200);
    assert!(c.source[1] >= 5 && c.source[0] >= 180, "{:?}", c.source);
    assert_eq!(out.memory.last().unwrap().l1_entries, 5);
}

#[test]
fn web_app_users_sign_in_once_then_refresh_silently_when_tokens_expire() {
    let text = "name: web
duration: 5m
clock: { speed: 120 }
authority: { embedded: { token_lifetime: 6m, signing: es256 } }
workload:
  - name: web
    flow: web_app
    users: { count: 20, tenants: 2, pick: round_robin }
    resources: [api://graph/.default]
    arrival: { rate: 4/s }
";
    let _turn = heavy();
    let (_, out) = run_text(text);
    let c = &out.workloads[0].counts;
    assert_eq!((c.acquisitions, c.failed), (1200, 0), "{:?}", c.errors);
    // Each user is asked every 5 s; tokens are usable for 1 minute: a sign-in per user, then
    // a refresh-token redemption about every minute.
    let [_, no_cached, expired, ..] = c.reason;
    assert_eq!(no_cached, 0, "{:?}", c.reason);
    assert!((20 * 3..=20 * 5).contains(&expired), "{:?}", c.reason);
    // A sign-in per user plus one redemption per expiry; under load a request may join a
    // redemption already in flight (single flight), so it counts `expired` without a request.
    let idp = out.idp_by_status.get("200").copied().unwrap_or(0);
    assert!(
        (20 + 20 * 3..=20 + expired).contains(&idp),
        "{idp} requests for {expired} expired: {:?}",
        out.idp_by_status
    );
    assert_eq!(out.idp_by_status.len(), 1, "{:?}", out.idp_by_status);
    assert_eq!(
        out.memory.last().unwrap().l1_entries,
        20,
        "one partition per account"
    );
}

fn sessions(sign_out: bool) -> String {
    format!(
        "name: sessions
duration: 2m
clock: {{ speed: 120 }}
authority: {{ embedded: {{ signing: es256 }} }}
workload:
  - name: web
    flow: web_app
    users: {{ count: 10, tenants: 2 }}
    resources: [api://graph/.default, api://files/.default]
    session: {{ requests: {{ mean: 4 }}, think_time: 2s, sign_out: {sign_out} }}
    arrival: {{ rate: 1/s }}
"
    )
}

#[test]
fn web_app_sessions_sign_in_acquire_silently_and_sign_out() {
    let _turn = heavy();
    for sign_out in [true, false] {
        let (_, out) = run_text(&sessions(sign_out));
        let c = &out.workloads[0].counts;
        assert_eq!(c.failed, 0, "{:?}", c.errors);
        // 120 sessions of 4 requests on average (a few cut short by the end of the run).
        assert!((300..=600).contains(&c.acquisitions), "{}", c.acquisitions);
        assert!(c.source[0] > c.source[1], "{:?}", c.source);
        assert_eq!(out.idp_by_status.keys().collect::<Vec<_>>(), ["200"]);
        let left = out.memory.last().unwrap().l1_entries;
        if sign_out {
            assert_eq!(left, 0, "every session signed out at its end");
        } else {
            assert!((1..=10).contains(&left), "{left}");
        }
    }
}
