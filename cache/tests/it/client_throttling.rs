//! 429 with Retry-After: the call fails with a typed error carrying retry_after; while the
//! window is open nothing is sent (fail-fast) or the call waits the window out (wait mode);
//! after it, requests flow again. Windows are per request key and on the client's clock.

use std::time::{Duration, Instant};

use mock_authority::{FaultAction, FaultMatch, FaultRule};
use tokencache::client::{AcquireError, AcquireOptions, AuthorityError, ThrottleMode, TokenSource};

use crate::client_support::{check_metadata, Harness, TENANT};

const THROTTLED: &str = "api://throttled/.default";

fn throttle(h: &Harness, retry_after_s: u64) {
    h.authority
        .set_faults(vec![FaultRule {
            name: Some("429".into()),
            matches: FaultMatch {
                scope: Some("api://throttled".into()),
                ..FaultMatch::default()
            },
            when: Default::default(),
            action: FaultAction::Status {
                status: 429,
                retry_after_s: Some(retry_after_s),
            },
        }])
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_sends_nothing_inside_the_retry_after_window() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    throttle(&h, 5);

    let err = client
        .acquire_token_for_client(TENANT, &[THROTTLED], &none)
        .await
        .unwrap_err();
    match &err {
        AcquireError::Authority(e @ AuthorityError::Throttled { status: 429, .. }) => {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
            assert_eq!(e.status(), Some(429));
        }
        other => panic!("expected a throttled authority error, got {other:?}"),
    }
    assert_eq!(h.token_request_count().await, 1);

    // Inside the window: typed error with what is left, and nothing on the wire.
    h.authority.set_faults(Vec::new()).unwrap();
    for (at, left) in [(0, 5_000), (1_000, 4_000), (4_999, 1)] {
        h.clock.set_millis(crate::support::T0_MS + at);
        let err = client
            .acquire_token_for_client(TENANT, &[THROTTLED], &none)
            .await
            .unwrap_err();
        match err {
            AcquireError::Throttled { remaining } => {
                assert_eq!(remaining, Duration::from_millis(left))
            }
            other => panic!("expected Throttled, got {other:?}"),
        }
    }
    assert_eq!(
        h.token_request_count().await,
        1,
        "nothing sent during Retry-After"
    );

    // Other keys are not throttled.
    let other = client
        .acquire_token_for_client(TENANT, &["api://other/.default"], &none)
        .await
        .unwrap();
    check_metadata(&other);
    assert_eq!(h.token_request_count().await, 2);

    // After the window, requests flow again.
    h.clock.set_millis(crate::support::T0_MS + 5_000);
    let ok = client
        .acquire_token_for_client(TENANT, &[THROTTLED], &none)
        .await
        .unwrap();
    check_metadata(&ok);
    assert_eq!(ok.metadata.token_source, TokenSource::IdentityProvider);
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].field("scope"), Some(THROTTLED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_capped() {
    let h = Harness::start().await;
    let client = h.client_with(|o| o.retry_after_cap = Duration::from_secs(2));
    let none = AcquireOptions::default();
    throttle(&h, 3600);
    let err = client
        .acquire_token_for_client(TENANT, &[THROTTLED], &none)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AcquireError::Authority(AuthorityError::Throttled { .. })
        ),
        "{err:?}"
    );
    h.authority.set_faults(Vec::new()).unwrap();
    h.advance(Duration::from_millis(1_999));
    let err = client
        .acquire_token_for_client(TENANT, &[THROTTLED], &none)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AcquireError::Throttled { remaining } if remaining == Duration::from_millis(1))
    );
    h.advance(Duration::from_millis(1));
    check_metadata(
        &client
            .acquire_token_for_client(TENANT, &[THROTTLED], &none)
            .await
            .unwrap(),
    );
    assert_eq!(h.token_request_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_mode_waits_the_window_out_then_sends() {
    let h = Harness::start().await;
    // A 500 ms window (the cap), so the test waits little.
    let client = h.client_with(|o| {
        o.throttle_mode = ThrottleMode::Wait;
        o.retry_after_cap = Duration::from_millis(500);
    });
    let none = AcquireOptions::default();
    throttle(&h, 5);
    let err = client
        .acquire_token_for_client(TENANT, &[THROTTLED], &none)
        .await
        .unwrap_err();
    assert_eq!(
        match &err {
            AcquireError::Authority(e) => e.retry_after(),
            _ => None,
        },
        Some(Duration::from_secs(5)),
        "the error reports the server's Retry-After: {err:?}"
    );
    h.authority.set_faults(Vec::new()).unwrap();

    // 100 ms of the window pass on the client's clock: 400 ms are left to wait.
    h.advance(Duration::from_millis(100));
    let started = Instant::now();
    let c = client.clone();
    let waiting = tokio::spawn(async move {
        c.acquire_token_for_client(TENANT, &[THROTTLED], &AcquireOptions::default())
            .await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        h.token_request_count().await,
        1,
        "nothing sent while waiting"
    );
    let r = waiting.await.unwrap().unwrap();
    let waited = started.elapsed();
    check_metadata(&r);
    assert_eq!(r.metadata.token_source, TokenSource::IdentityProvider);
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "waited {waited:?}"
    );
    assert_eq!(h.token_request_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_background_refresh_sends_nothing_more_inside_the_window() {
    let h = Harness::with_config(mock_authority::AuthorityConfig {
        lifetimes: mock_authority::Lifetimes {
            refresh_in: Some(1800),
            ..Default::default()
        },
        ..crate::client_support::authority_config()
    })
    .await;
    let client = h.client();
    let none = AcquireOptions::default();
    let first = client
        .acquire_token_for_client(TENANT, &[THROTTLED], &none)
        .await
        .unwrap();
    check_metadata(&first);
    throttle(&h, 5);
    h.advance(Duration::from_secs(1800));

    // Callers past refresh_on keep getting the cached token; the one background refresh
    // meets a 429, and the ones started after it send nothing inside the window.
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.token_request_count().await < 2 {
        let r = client
            .acquire_token_for_client(TENANT, &[THROTTLED], &none)
            .await
            .unwrap();
        check_metadata(&r);
        assert_eq!(r.access_token, first.access_token);
        assert!(Instant::now() < deadline, "no background refresh");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for _ in 0..20 {
        let r = client
            .acquire_token_for_client(TENANT, &[THROTTLED], &none)
            .await
            .unwrap();
        check_metadata(&r);
        assert_eq!(r.access_token, first.access_token);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        h.token_request_count().await,
        2,
        "nothing sent during Retry-After"
    );

    // After the window the next caller's background refresh goes out and lands.
    h.authority.set_faults(Vec::new()).unwrap();
    h.advance(Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = client
            .acquire_token_for_client(TENANT, &[THROTTLED], &none)
            .await
            .unwrap();
        check_metadata(&r);
        if r.access_token != first.access_token {
            break;
        }
        assert!(Instant::now() < deadline, "no refresh after the window");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(h.token_request_count().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_wait_mode_concurrent_callers_wait_then_send_one_request() {
    let h = Harness::start().await;
    let client = h.client_with(|o| {
        o.throttle_mode = ThrottleMode::Wait;
        o.retry_after_cap = Duration::from_millis(400);
    });
    throttle(&h, 5);
    let none = AcquireOptions::default();
    assert!(client
        .acquire_token_for_client(TENANT, &[THROTTLED], &none)
        .await
        .is_err());
    h.authority.set_faults(Vec::new()).unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move {
                c.acquire_token_for_client(TENANT, &[THROTTLED], &AcquireOptions::default())
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        h.token_request_count().await,
        1,
        "nothing sent while waiting"
    );
    for t in tasks {
        check_metadata(&t.await.unwrap().unwrap());
    }
    assert_eq!(
        h.token_request_count().await,
        2,
        "the waiters shared one request"
    );
}
