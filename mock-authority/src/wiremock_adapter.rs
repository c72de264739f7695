//! The issuing logic mounted on a `wiremock::MockServer` (feature `wiremock`), for tests
//! that assert exact request sequences. wiremock keeps every matched request and runs
//! responders under one lock: fine for tests, never for load.
//!
//! Differences from the real server: a `reset` fault becomes an empty 500 (wiremock cannot
//! reset a connection), a `hang` becomes a one-hour delay, and plain HTTP only (MSAL clients
//! need the HTTPS server).

use std::sync::Arc;
use std::time::Duration;

use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::authority::{Action, Authority, Decision, Reply, TokenRequest};

/// Which endpoint a responder serves.
#[derive(Debug, Clone, Copy)]
enum Route {
    Token,
    Authorize,
    OpenIdConfiguration,
    Jwks,
    InstanceDiscovery,
}

/// A `wiremock::Respond` backed by an [`Authority`].
#[derive(Debug, Clone)]
pub struct AuthorityResponder {
    authority: Arc<Authority>,
    route: Route,
}

fn base_url(req: &Request) -> String {
    if let Some(host) = req.headers.get("host").and_then(|h| h.to_str().ok()) {
        return format!("http://{host}");
    }
    let u = &req.url;
    match u.port() {
        Some(p) => format!(
            "{}://{}:{p}",
            u.scheme(),
            u.host_str().unwrap_or("127.0.0.1")
        ),
        None => format!("{}://{}", u.scheme(), u.host_str().unwrap_or("127.0.0.1")),
    }
}

fn tenant(req: &Request) -> String {
    req.url
        .path_segments()
        .and_then(|mut s| s.next())
        .unwrap_or("common")
        .to_owned()
}

fn template(reply: Reply) -> ResponseTemplate {
    let mut t = ResponseTemplate::new(reply.status);
    if let Some(s) = reply.retry_after_s {
        t = t.insert_header("Retry-After", s.to_string().as_str());
    }
    if let Some(loc) = &reply.location {
        t = t.insert_header("Location", loc.as_str());
    }
    if !reply.body.is_empty() {
        t = t.set_body_raw(reply.body.into_bytes(), "application/json; charset=utf-8");
    }
    t
}

impl Respond for AuthorityResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let base = base_url(req);
        let tenant = tenant(req);
        let a = &self.authority;
        match self.route {
            Route::Token => {
                let header_id = req
                    .headers
                    .get("client-request-id")
                    .and_then(|v| v.to_str().ok());
                let query_id = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "client-request-id")
                    .map(|(_, v)| v.into_owned());
                let Decision { delay, action } = a.token(&TokenRequest {
                    tenant: &tenant,
                    base_url: &base,
                    body: &req.body,
                    client_request_id: header_id.or(query_id.as_deref()),
                });
                match action {
                    Action::Reply(r) => template(r).set_delay(delay),
                    Action::Reset => ResponseTemplate::new(500).set_delay(delay),
                    Action::Hang => ResponseTemplate::new(504).set_delay(Duration::from_secs(3600)),
                }
            }
            Route::Authorize => template(a.authorize(&tenant, req.url.query().unwrap_or(""))),
            Route::OpenIdConfiguration => template(a.openid_configuration(&tenant, &base)),
            Route::Jwks => template(Reply {
                status: 200,
                retry_after_s: None,
                location: None,
                body: a.jwks().to_owned(),
            }),
            Route::InstanceDiscovery => template(a.instance_discovery(&base)),
        }
    }
}

/// Mounts the token, authorize, discovery, JWKS and instance-discovery endpoints of
/// `authority` on `server`.
pub async fn mount(authority: Arc<Authority>, server: &MockServer) {
    let routes = [
        ("POST", r"^/[^/]+/oauth2/v2\.0/token$", Route::Token),
        ("GET", r"^/[^/]+/oauth2/v2\.0/authorize$", Route::Authorize),
        (
            "GET",
            r"^/[^/]+/v2\.0/\.well-known/openid-configuration$",
            Route::OpenIdConfiguration,
        ),
        ("GET", r"^/[^/]+/discovery/(v2\.0/)?keys$", Route::Jwks),
        (
            "GET",
            r"^/[^/]+/discovery/instance$",
            Route::InstanceDiscovery,
        ),
    ];
    for (verb, path, route) in routes {
        Mock::given(method(verb))
            .and(path_regex(path))
            .respond_with(AuthorityResponder {
                authority: Arc::clone(&authority),
                route,
            })
            .named(format!("mock-authority {route:?}"))
            .mount(server)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::mount;
    use crate::{AuthorityConfig, FaultAction, FaultMatch, FaultRule, ManualTimeSource};

    #[tokio::test]
    async fn the_issuing_logic_on_a_wiremock_server_records_the_exact_request_sequence() {
        let clock = Arc::new(ManualTimeSource::new(1_795_320_000_000));
        let authority =
            Arc::new(crate::Authority::new(AuthorityConfig::default(), clock).expect("authority"));
        authority
            .set_faults(vec![FaultRule {
                name: None,
                matches: FaultMatch {
                    scope: Some("api://throttled".into()),
                    ..FaultMatch::default()
                },
                when: Default::default(),
                action: FaultAction::Status {
                    status: 429,
                    retry_after_s: Some(5),
                },
            }])
            .expect("rules");
        let server = wiremock::MockServer::builder().start().await;
        mount(Arc::clone(&authority), &server).await;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let base = server.uri();

        let doc: serde_json::Value = client
            .get(format!("{base}/t1/v2.0/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery")
            .json()
            .await
            .expect("json");
        assert_eq!(
            doc["token_endpoint"],
            format!("{base}/t1/oauth2/v2.0/token")
        );
        let form = |scope: &'static str| {
            [
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("client_secret", "s"),
                ("scope", scope),
            ]
        };
        let ok = client
            .post(format!("{base}/t1/oauth2/v2.0/token"))
            .form(&form("api://r/.default"))
            .send()
            .await
            .expect("token");
        assert_eq!(ok.status(), 200);
        let body: serde_json::Value = ok.json().await.expect("json");
        assert!(body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3));
        let throttled = client
            .post(format!("{base}/t2/oauth2/v2.0/token"))
            .form(&form("api://throttled/.default"))
            .send()
            .await
            .expect("token");
        assert_eq!(throttled.status(), 429);
        assert_eq!(throttled.headers()["retry-after"], "5");
        let redirect = client
            .get(format!("{base}/t1/oauth2/v2.0/authorize?client_id=app&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&login_hint=u%40t1"))
            .send().await.expect("authorize");
        assert_eq!(redirect.status(), 302);

        let seen: Vec<String> = server
            .received_requests()
            .await
            .expect("recording on")
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect();
        assert_eq!(
            seen,
            [
                "GET /t1/v2.0/.well-known/openid-configuration",
                "POST /t1/oauth2/v2.0/token",
                "POST /t2/oauth2/v2.0/token",
                "GET /t1/oauth2/v2.0/authorize",
            ]
        );
        let stats = authority.stats();
        assert_eq!(
            (
                stats.count("client_credentials", 200),
                stats.count("client_credentials", 429)
            ),
            (1, 1)
        );
    }
}
