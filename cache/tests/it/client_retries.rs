//! Retries: a 5xx or a connection error is retried exactly once (with jittered backoff),
//! then fails with a typed error; a timeout is a typed transport error and is not retried
//! (the request may be in progress at the server).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mock_authority::FaultAction;
use tokencache::client::{
    AcquireError, AcquireOptions, AuthorityClient, AuthorityError, ConfidentialClient,
    HttpAuthority, HttpAuthorityOptions, RawResponse, TokenSource, TransportError,
};

use crate::client_support::{check_metadata, Harness, SCOPE, TENANT};

/// Sends token requests to `endpoint` through a real HTTP client, counting attempts;
/// the first `fail_first` attempts fail to connect without sending.
#[derive(Debug)]
struct Redirected {
    endpoint: String,
    http: HttpAuthority,
    attempts: AtomicUsize,
    fail_first: usize,
}

#[async_trait]
impl AuthorityClient for Redirected {
    async fn token_endpoint(&self, _tenant: &str) -> Result<Arc<str>, AuthorityError> {
        Ok(Arc::from(self.endpoint.as_str()))
    }

    async fn post_token(
        &self,
        endpoint: &str,
        form: &[(&'static str, String)],
        headers: &[(&'static str, String)],
    ) -> Result<RawResponse, TransportError> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_first {
            return Err(TransportError::Connect {
                endpoint: endpoint.to_owned(),
                message: "connection refused (simulated)".into(),
            });
        }
        self.http.post_token(endpoint, form, headers).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_retried_exactly_once_then_fails_with_its_status() {
    let h = Harness::start().await;
    let client = h.client();
    h.fail_every_request(FaultAction::Status {
        status: 503,
        retry_after_s: None,
    });
    let err = client
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap_err();
    match &err {
        AcquireError::Authority(e) => {
            assert_eq!(e.status(), Some(503), "{e}");
            assert_eq!(e.retry_after(), None);
        }
        other => panic!("expected an authority error, got {other:?}"),
    }
    assert!(err.to_string().contains("503"), "{err}");
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 2, "one request and one retry");
    assert_eq!(sent[0].form, sent[1].form, "the retry sends the same form");

    // The next call is not blocked (a 5xx without Retry-After opens no window).
    h.authority.set_faults(Vec::new()).unwrap();
    let ok = client
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap();
    check_metadata(&ok);
    assert_eq!(h.token_request_count().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_without_an_oauth_body_is_a_typed_http_error_after_one_retry() {
    let h = Harness::start().await;
    // wiremock turns a `reset` into an empty 500.
    h.fail_every_request(FaultAction::Reset);
    let err = h
        .client()
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AcquireError::Authority(AuthorityError::Http { status: 500 })
        ),
        "{err:?}"
    );
    assert_eq!(h.token_request_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_error_is_retried_once_then_fails() {
    let h = Harness::start().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let authority = Arc::new(Redirected {
        endpoint: format!("http://127.0.0.1:{closed}/{TENANT}/oauth2/v2.0/token"),
        http: HttpAuthority::new(&h.server.uri(), HttpAuthorityOptions::default()).unwrap(),
        attempts: AtomicUsize::new(0),
        fail_first: 0,
    });
    let client = ConfidentialClient::new(
        h.options(),
        authority.clone(),
        Some(h.cache()),
        h.shared_clock(),
    );
    let err = client
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AcquireError::Authority(AuthorityError::Transport(TransportError::Connect { .. }))
        ),
        "{err:?}"
    );
    assert_eq!(authority.attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_error_then_an_answer_succeeds_on_the_retry() {
    let h = Harness::start().await;
    let authority = Arc::new(Redirected {
        endpoint: h.token_endpoint(TENANT),
        http: HttpAuthority::new(&h.server.uri(), HttpAuthorityOptions::default()).unwrap(),
        attempts: AtomicUsize::new(0),
        fail_first: 1,
    });
    let client = ConfidentialClient::new(
        h.options(),
        authority.clone(),
        Some(h.cache()),
        h.shared_clock(),
    );
    let r = client
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap();
    check_metadata(&r);
    assert_eq!(r.metadata.token_source, TokenSource::IdentityProvider);
    assert_eq!(authority.attempts.load(Ordering::SeqCst), 2);
    assert_eq!(h.token_request_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_a_typed_transport_error_and_is_not_retried() {
    let h = Harness::start().await;
    h.fail_every_request(FaultAction::Hang);
    let http = h.http_with(HttpAuthorityOptions {
        timeout: Duration::from_millis(300),
        ..HttpAuthorityOptions::default()
    });
    let client = ConfidentialClient::new(h.options(), http, Some(h.cache()), h.shared_clock());
    let started = Instant::now();
    let err = client
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap_err();
    let took = started.elapsed();
    match &err {
        AcquireError::Authority(AuthorityError::Transport(TransportError::Timeout {
            endpoint,
            after,
        })) => {
            assert_eq!(*after, Duration::from_millis(300));
            assert_eq!(endpoint, &h.token_endpoint(TENANT));
        }
        other => panic!("expected a transport timeout, got {other:?}"),
    }
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(h.token_request_count().await, 1, "a timeout is not retried");
}
