//! The axum routes: per-tenant Entra endpoints, instance discovery, and `/_admin/*`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use serde::Deserialize;

use crate::authority::{Action, Authority, Reply, TokenRequest};
use crate::faults::{FaultRule, LatencyModel};
use crate::oauth_error::EntraError;

/// Set by the connection task: the handler asks it to reset the connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnControl(pub(crate) Arc<tokio::sync::Notify>);

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) authority: Arc<Authority>,
    pub(crate) scheme: &'static str,
    pub(crate) fallback_host: String,
    pub(crate) body_limit: usize,
    pub(crate) delay_scale: f64,
    pub(crate) hang_max: Duration,
}

impl AppState {
    fn base_url(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
            .unwrap_or(&self.fallback_host);
        format!("{}://{host}", self.scheme)
    }
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/discovery/keys", get(jwks))
        .route("/{tenant}/discovery/instance", get(instance_discovery))
        .route("/_admin/stats", get(admin_stats))
        .route("/_admin/stats/reset", post(admin_reset_stats))
        .route("/_admin/faults", get(admin_faults).put(admin_set_faults))
        .route("/_admin/latency", get(admin_latency).put(admin_set_latency))
        .route("/_admin/revoke", post(admin_revoke))
        .route("/_admin/health", get(|| async { "ok" }))
        .fallback(not_found)
        .with_state(state)
}

fn json_response(status: u16, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn reply_response(reply: Reply) -> Response {
    let mut r = json_response(reply.status, reply.body);
    if let Some(s) = reply.retry_after_s {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    if let Some(loc) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, loc);
        r.headers_mut().remove(header::CONTENT_TYPE);
    }
    r
}

fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<std::borrow::Cow<'q, str>> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn token(State(s): State<AppState>, Path(tenant): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let ctl = parts.extensions.get::<ConnControl>().cloned();
    token_response(&s, &tenant, &parts, body, ctl.as_ref()).await
}

/// The token endpoint, shared by the axum route and the server's fast path (which skips
/// routing for `POST /{tenant}/oauth2/v2.0/token`).
pub(crate) async fn token_response<B>(
    s: &AppState,
    tenant: &str,
    parts: &axum::http::request::Parts,
    body: B,
    ctl: Option<&ConnControl>,
) -> Response
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    #[cfg(feature = "otlp")]
    {
        let span = crate::otel::token_span(&parts.headers, tenant);
        let r = token_reply(s, tenant, parts, body, ctl).await;
        span.end(r.status().as_u16());
        r
    }
    #[cfg(not(feature = "otlp"))]
    token_reply(s, tenant, parts, body, ctl).await
}

async fn token_reply<B>(
    s: &AppState,
    tenant: &str,
    parts: &axum::http::request::Parts,
    body: B,
    ctl: Option<&ConnControl>,
) -> Response
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let header_id = parts
        .headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok());
    let query_id = query_param(parts.uri.query(), "client-request-id");
    let correlation = header_id.or(query_id.as_deref());
    let limited = http_body_util::Limited::new(body, s.body_limit);
    let decision = match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let base_url = s.base_url(&parts.headers);
            s.authority.token(&TokenRequest {
                tenant,
                base_url: &base_url,
                body: &bytes,
                client_request_id: correlation,
            })
        }
        Err(_) => s.authority.reject_token_request(
            &EntraError::malformed(&format!(
                "The request body is unreadable or larger than {} bytes.",
                s.body_limit
            )),
            correlation,
        ),
    };
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay.mul_f64(s.delay_scale)).await;
    }
    match decision.action {
        Action::Reply(reply) => reply_response(reply),
        Action::Reset => {
            if let Some(ctl) = ctl {
                ctl.0.notify_one();
                std::future::pending::<()>().await;
            }
            json_response(500, "")
        }
        Action::Hang => {
            tokio::time::sleep(s.hang_max).await;
            if let Some(ctl) = ctl {
                ctl.0.notify_one();
                std::future::pending::<()>().await;
            }
            json_response(504, "")
        }
    }
}

/// The tenant of `/{tenant}/oauth2/v2.0/token` when it needs no percent-decoding.
pub(crate) fn token_path_tenant(path: &str) -> Option<&str> {
    let (tenant, rest) = path.strip_prefix('/')?.split_once('/')?;
    (rest == "oauth2/v2.0/token" && !tenant.is_empty() && !tenant.contains('%')).then_some(tenant)
}

async fn authorize(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    reply_response(s.authority.authorize(&tenant, q.as_deref().unwrap_or("")))
}

async fn openid_configuration(
    State(s): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    reply_response(
        s.authority
            .openid_configuration(&tenant, &s.base_url(&headers)),
    )
}

async fn jwks(State(s): State<AppState>) -> Response {
    json_response(200, s.authority.jwks().to_owned())
}

async fn instance_discovery(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply_response(s.authority.instance_discovery(&s.base_url(&headers)))
}

async fn not_found(State(s): State<AppState>) -> Response {
    let e = EntraError::malformed("Unknown endpoint.");
    let mut reply = s.authority.error_reply(&e, None);
    reply.status = 404;
    reply_response(reply)
}

fn admin_error(msg: impl std::fmt::Display) -> Response {
    json_response(
        400,
        serde_json::json!({"error": msg.to_string()}).to_string(),
    )
}

fn ok_json<T: serde::Serialize>(v: &T) -> Response {
    json_response(200, serde_json::to_string(v).unwrap_or_default())
}

async fn admin_stats(State(s): State<AppState>) -> Response {
    ok_json(&s.authority.stats())
}

async fn admin_reset_stats(State(s): State<AppState>) -> Response {
    s.authority.reset_stats();
    ok_json(&s.authority.stats())
}

async fn admin_faults(State(s): State<AppState>) -> Response {
    ok_json(&s.authority.faults())
}

async fn admin_set_faults(State(s): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<Vec<FaultRule>>(&body) {
        Ok(rules) => match s.authority.set_faults(rules) {
            Ok(()) => ok_json(&s.authority.faults()),
            Err(e) => admin_error(e),
        },
        Err(e) => admin_error(e),
    }
}

async fn admin_latency(State(s): State<AppState>) -> Response {
    ok_json(&s.authority.latency())
}

async fn admin_set_latency(State(s): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<LatencyModel>(&body) {
        Ok(model) => match s.authority.set_latency(model) {
            Ok(()) => ok_json(&s.authority.latency()),
            Err(e) => admin_error(e),
        },
        Err(e) => admin_error(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    refresh_token: Option<String>,
    client_id: Option<String>,
    oid: Option<String>,
}

async fn admin_revoke(State(s): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<RevokeRequest>(&body) {
        Ok(RevokeRequest {
            refresh_token: Some(t),
            ..
        }) => {
            let revoked = s.authority.revoke_refresh_token(&t);
            ok_json(&serde_json::json!({"revoked": revoked}))
        }
        Ok(RevokeRequest {
            client_id: Some(c),
            oid: Some(o),
            ..
        }) => {
            s.authority.revoke_user_refresh_tokens(&c, &o);
            ok_json(&serde_json::json!({"revoked": true}))
        }
        Ok(_) => admin_error("give refresh_token, or client_id and oid"),
        Err(e) => admin_error(e),
    }
}
