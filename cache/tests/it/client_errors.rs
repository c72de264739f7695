//! Errors from the identity provider are typed (AADSTS code, correlation id) and never
//! show the client secret or any token.

use std::time::Duration;

use tokencache::client::{
    AcquireError, AcquireOptions, AuthorityError, ClientCredential, ConfidentialClient,
};

use crate::client_support::{
    check_metadata, Harness, CLIENT_ID, REDIRECT_URI, SCOPE, SECRET, TENANT,
};

#[track_caller]
fn assert_hides(err: &AcquireError, secrets: &[&str]) {
    for text in [err.to_string(), format!("{err:?}")] {
        for s in secrets {
            assert!(!text.contains(s), "error text shows a secret: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_aadsts7000215_with_a_correlation_id_and_no_secret() {
    let h = Harness::start().await;
    let wrong = "wr0ng-Secret~value";
    let mut opts = h.options();
    opts.credential = ClientCredential::secret(wrong);
    let client = ConfidentialClient::new(opts, h.http(), Some(h.cache()), h.shared_clock());
    let err = client
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap_err();
    let AcquireError::Authority(e @ AuthorityError::Oauth { .. }) = &err else {
        panic!("expected an OAuth error, got {err:?}");
    };
    assert_eq!(e.aadsts(), Some(7_000_215));
    assert_eq!(e.status(), Some(401));
    let AuthorityError::Oauth {
        error,
        correlation_id,
        ..
    } = e
    else {
        unreachable!()
    };
    assert_eq!(error, "invalid_client");
    let correlation = correlation_id.as_deref().expect("a correlation id");
    assert!(!correlation.is_empty());
    let text = err.to_string();
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(text.contains(correlation), "{text}");
    assert_hides(&err, &[wrong, SECRET]);
    // The secret did go out (in the form), once: an invalid_client is not retried.
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].field("client_secret"), Some(wrong));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_is_invalid_grant_and_the_error_shows_no_token() {
    let h = Harness::start().await;
    let client = h.client();
    let scopes = ["api://resource-a/read"];
    let code = h
        .authorization_code("api://resource-a/read openid offline_access")
        .await;
    let first = client
        .acquire_token_by_authorization_code(TENANT, &code, REDIRECT_URI, &scopes)
        .await
        .unwrap();
    check_metadata(&first);
    let account = first.account.clone().unwrap();
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 1);
    let p = client
        .cache()
        .unwrap()
        .get(&account.home_account_id)
        .await
        .unwrap()
        .partition
        .unwrap();
    let rt = p
        .refresh_token(&account.home_account_id, CLIENT_ID)
        .unwrap()
        .secret
        .clone();
    assert!(h.authority.revoke_refresh_token(rt.expose()));

    h.advance(Duration::from_secs(3600));
    let err = client
        .acquire_token_silent(&account, &scopes, &AcquireOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        match &err {
            AcquireError::Authority(e) => e.aadsts(),
            _ => None,
        },
        Some(50_173),
        "{err:?}"
    );
    assert_hides(
        &err,
        &[rt.expose(), first.access_token.expose(), &code, SECRET],
    );
    // A redeemed code is refused with AADSTS54005, and its error does not echo the code.
    let err = client
        .acquire_token_by_authorization_code(TENANT, &code, REDIRECT_URI, &scopes)
        .await
        .unwrap_err();
    assert_eq!(
        match &err {
            AcquireError::Authority(e) => e.aadsts(),
            _ => None,
        },
        Some(54_005),
        "{err:?}"
    );
    assert_hides(&err, &[&code, SECRET]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_tenant_is_aadsts90002_from_discovery_and_no_token_request() {
    let h = Harness::with_config(mock_authority::AuthorityConfig {
        tenants: Some(vec![TENANT.into()]),
        ..crate::client_support::authority_config()
    })
    .await;
    let client = h.client();
    let err = client
        .acquire_token_for_client("no-such-tenant", &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap_err();
    let AcquireError::Authority(e) = &err else {
        panic!("expected an authority error, got {err:?}");
    };
    assert_eq!(e.aadsts(), Some(90_002), "{e:?}");
    assert_eq!(e.status(), Some(400));
    assert!(err.to_string().contains("no-such-tenant"), "{err}");
    assert_hides(&err, &[SECRET]);
    assert_eq!(h.token_request_count().await, 0);
    // The known tenant works.
    check_metadata(
        &client
            .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
            .await
            .unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_user_assertion_is_aadsts500133_and_the_error_hides_it() {
    let h = Harness::start().await;
    let client = h.client();
    let assertion = h.user_assertion("gina@contoso.example");
    h.advance(Duration::from_secs(3601));
    let err = client
        .acquire_token_on_behalf_of(
            TENANT,
            &assertion,
            &["api://downstream/Files.Read"],
            None,
            &AcquireOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        match &err {
            AcquireError::Authority(e) => e.aadsts(),
            _ => None,
        },
        Some(500_133),
        "{err:?}"
    );
    let signature = assertion.rsplit('.').next().unwrap();
    assert_hides(&err, &[&assertion, signature, SECRET]);
    assert_eq!(
        h.token_request_count().await,
        1,
        "an invalid_grant is not retried"
    );
}
