//! msal-node 7.2 against the mock: client credentials twice and on-behalf-of twice, the
//! second time from its cache.

use std::path::PathBuf;

use crate::real_clients::{node_modules, run, script};
use crate::support::*;

#[tokio::test]
async fn client_credentials_twice_second_from_cache() {
    let server = https_server(strict_config()).await;
    let metadata = server
        .authority()
        .openid_configuration(TENANT, &server.base_url)
        .body;
    server.authority().reset_stats();
    let env = [
        ("MOCK_TENANT", TENANT.to_string()),
        ("MOCK_CLIENT_ID", APP.to_string()),
        ("MOCK_SECRET", SECRET.to_string()),
        ("MOCK_SCOPE", "api://res/.default".to_string()),
        ("MOCK_AUTHORITY_METADATA", metadata),
        (
            "TOKENSCOPE_NODE_MODULES",
            node_modules().display().to_string(),
        ),
    ];
    let out = run(
        PathBuf::from("node"),
        &[script("msal_node_cc.mjs")],
        "",
        &server,
        &env,
    )
    .await;
    assert!(out.get("error").is_none(), "{out}");
    assert_eq!(out["first"]["fromCache"], false, "{out}");
    assert_eq!(out["first"]["hasAccessToken"], true, "{out}");
    assert_eq!(out["second"]["fromCache"], true, "{out}");
    let s = server.authority().stats();
    assert_eq!(
        (s.token_requests, s.count("client_credentials", 200)),
        (1, 1),
        "{s:?}"
    );
    assert_eq!(
        s.endpoints["openid_configuration"] + s.endpoints["instance_discovery"],
        0,
        "metadata was given: {s:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn on_behalf_of_twice_second_from_cache() {
    let server = https_server(strict_config()).await;
    let metadata = server
        .authority()
        .openid_configuration(TENANT, &server.base_url)
        .body;
    server.authority().reset_stats();
    let user = mock_authority::User {
        username: ALICE.into(),
        oid: ALICE_OID.into(),
        tenant: TENANT.into(),
        name: "Alice".into(),
    };
    let assertion = server
        .authority()
        .mint_user_assertion(
            &mock_authority::UserAssertion {
                user,
                audience: MIDDLE_TIER.into(),
                client_id: APP.into(),
                scp: "access_as_user".into(),
                lifetime_s: 3600,
            },
            &server.base_url,
        )
        .expect("mint");
    let env = [
        ("MOCK_TENANT", TENANT.to_string()),
        ("MOCK_CLIENT_ID", MIDDLE_TIER.to_string()),
        ("MOCK_SECRET", MIDDLE_SECRET.to_string()),
        ("MOCK_SCOPE", "api://downstream/read".to_string()),
        ("MOCK_AUTHORITY_METADATA", metadata),
        ("MOCK_ASSERTION", assertion),
        (
            "TOKENSCOPE_NODE_MODULES",
            node_modules().display().to_string(),
        ),
    ];
    let out = run(
        PathBuf::from("node"),
        &[script("msal_node_obo.mjs")],
        "",
        &server,
        &env,
    )
    .await;
    assert!(out.get("error").is_none(), "{out}");
    assert_eq!(
        (
            out["first"]["fromCache"].as_bool(),
            out["second"]["fromCache"].as_bool()
        ),
        (Some(false), Some(true)),
        "{out}"
    );
    assert_eq!(out["first"]["username"], ALICE, "{out}");
    assert_eq!(
        out["first"]["homeAccountId"],
        format!("{ALICE_OID}.{TENANT}"),
        "{out}"
    );
    let s = server.authority().stats();
    assert_eq!(
        (s.token_requests, s.count("on_behalf_of", 200)),
        (1, 1),
        "{s:?}"
    );
    server.stop().await;
}
