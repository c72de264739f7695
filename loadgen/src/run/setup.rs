//! Building what a run drives from the scenario: the clock, the authority, the cache, one
//! confidential client per app and one flow context per workload.

use std::sync::Arc;

use anyhow::Context as _;
use tokencache::client::{
    AuthorityClient, ClientCredential, ClientOptions, ConfidentialClient, HttpAuthority,
    HttpAuthorityOptions,
};
use tokencache::{
    CacheOptions, EncryptionKey, L1Options, ScaledClock, SharedClock, SystemClock, TokenCache,
};

use super::authority::{build_mock, Counting, EmbeddedAuthority};
use super::flows::{Assertions, FlowCtx};
use super::signin::SignIns;
use crate::scenario::model::{AuthoritySpec, FlowSpec, Scenario};
use crate::telemetry::Telemetry;

/// The parts of a run.
#[derive(Debug)]
pub struct Parts {
    pub clock: SharedClock,
    /// The embedded mock and the virtual time (ms) at which it started counting its fault
    /// windows.
    pub mock: Option<(Arc<mock_authority::Authority>, u64)>,
    pub idp: Arc<Counting>,
    pub cache: TokenCache,
    pub flows: Vec<Arc<FlowCtx>>,
}

pub async fn build(scn: &Scenario, tel: &Telemetry) -> anyhow::Result<Parts> {
    let clock: SharedClock = Arc::new(ScaledClock::starting_now(scn.speed));
    let mut mock = None;
    let inner: Arc<dyn AuthorityClient> = match &scn.authority {
        AuthoritySpec::Embedded(spec) => {
            let started_v = clock.now_millis();
            let m =
                build_mock(spec, clock.clone()).context("starting the embedded mock authority")?;
            mock = Some((m.clone(), started_v));
            Arc::new(EmbeddedAuthority {
                authority: m,
                clock: clock.clone(),
                hang_timeout: std::time::Duration::from_secs(10),
            })
        }
        AuthoritySpec::External { url, ca_file } => {
            let mut opts = HttpAuthorityOptions::default();
            if let Some(ca) = ca_file {
                opts.ca_pem.push(
                    std::fs::read(ca)
                        .with_context(|| format!("reading authority.ca_file {}", ca.display()))?,
                );
            }
            Arc::new(HttpAuthority::new(url, opts).with_context(|| format!("authority {url}"))?)
        }
    };
    let idp = Arc::new(Counting::new(inner));
    let c = &scn.cache;
    let store = c
        .store
        .connect("cache.l2", Arc::new(SystemClock))
        .await
        .context("connecting the L2 store")?;
    let mut encryption_keys = Vec::new();
    if let Some(var) = &c.encrypt_key_env {
        let text = std::env::var(var).with_context(|| {
            format!("cache.l2.encrypt.key_env: environment variable {var} is not set")
        })?;
        let key: EncryptionKey = tokencache::config::parse_key("cache.l2.encrypt", "k1", &text)?;
        encryption_keys.push(key);
    }
    let opts = CacheOptions {
        l1: c.l1_max_bytes.map(|max_bytes| L1Options { max_bytes }),
        namespace: c.namespace.clone(),
        encryption_keys,
        sliding_expiration: c.sliding_expiration,
        async_write: c.async_write,
        timeout: c.timeout,
        on_failure: c.on_failure,
        synchronization: c.synchronization,
        metric_attributes: tel.attrs(),
        // L1 gauges come from the run's memory samples (they outlive the cache).
        l1_gauges: false,
        ..CacheOptions::default()
    };
    let cache = match tel.meter() {
        Some(m) => TokenCache::with_meter(opts, store, clock.clone(), m),
        None => TokenCache::new(opts, store, clock.clone()),
    };
    let clients: Vec<ConfidentialClient> = scn
        .apps
        .iter()
        .map(|app| {
            let mut o = ClientOptions::new(
                app.client_id.clone(),
                ClientCredential::secret(app.secret.clone()),
            );
            o.single_flight = c.single_flight;
            // The proactive-refresh jitter is a real-time sleep: keep it at its default in
            // virtual time, so runs at different clock speeds stay comparable.
            o.refresh_jitter = o.refresh_jitter.div_f64(scn.speed.max(1e-9));
            ConfidentialClient::with_meter(o, idp.clone(), Some(cache.clone()), clock.clone(), None)
        })
        .collect();
    let flows = scn
        .workloads
        .iter()
        .map(|w| {
            let client = clients[w.app].clone();
            let assertions = match (&w.flow, &mock) {
                (
                    FlowSpec::OnBehalfOf {
                        assertion_lifetime, ..
                    },
                    Some((m, _)),
                ) => Some(Assertions::new(
                    m.clone(),
                    clock.clone(),
                    client.client_id(),
                    *assertion_lifetime,
                )),
                _ => None,
            };
            let sign_ins = match (&w.flow, &mock) {
                (FlowSpec::WebApp { .. }, Some((m, _))) => Some(SignIns::new(m.clone())),
                _ => None,
            };
            Arc::new(FlowCtx {
                spec: w.flow.clone(),
                client,
                assertions,
                sign_ins,
            })
        })
        .collect();
    Ok(Parts {
        clock,
        mock,
        idp,
        cache,
        flows,
    })
}
