//! OpenTelemetry for a run: the SDK providers (metrics, traces), their OTLP exporters, the
//! Prometheus scrape endpoint, and the instruments of DESIGN §5 recorded by the drivers.
//!
//! Configuration: the `OTEL_*` environment wins over the scenario's `telemetry:` keys
//! (see [`settings`]); `--prometheus-listen` wins over `telemetry.prometheus.listen`.
//! The cache crate only sees the `opentelemetry` API ([`Telemetry::meter`]); this module is the
//! only place that installs an SDK.

pub mod prometheus;
mod settings;
pub mod traces;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _, ObservableGauge};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::Resource;
use tokencache::client::{AuthResult, CacheRefreshReason, TokenSource};
use tokencache::metrics::{self as names, attr};
use tokencache::CacheLevel;

use crate::run::flows::IterError;
use crate::run::memory::MemSample;
pub use settings::{parse_listen, settings, Endpoint, Settings};

/// How long flushing and shutting down the providers may take before the run goes on
/// without them (a dead collector must not hang the run).
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

/// A random run id (32 hex digits), the `loadgen.run.id` resource attribute and
/// report.json `run.id`.
pub fn new_run_id() -> String {
    use rand::Rng as _;
    let v: u128 = rand::rng().random();
    format!("{v:032x}")
}

/// The telemetry of one run (all off by default).
#[derive(Debug)]
pub struct Telemetry {
    pub run_id: String,
    scenario: String,
    meters: Option<SdkMeterProvider>,
    meter: Option<Meter>,
    prom: Option<(prometheus::PromServer, Duration)>,
    otlp_metrics: Option<Endpoint>,
    tracer: Option<(opentelemetry_sdk::trace::SdkTracerProvider, Endpoint)>,
    sample_ratio: f64,
    /// The latest memory sample, read by the gauges.
    latest: Arc<Mutex<Option<MemSample>>>,
    _gauges: Vec<ObservableGauge<u64>>,
}

impl Telemetry {
    /// No export: instruments are not even created.
    pub fn off(run_id: String, scenario: &str) -> Self {
        Telemetry {
            run_id,
            scenario: scenario.to_owned(),
            meters: None,
            meter: None,
            prom: None,
            otlp_metrics: None,
            tracer: None,
            sample_ratio: 0.0,
            latest: Arc::default(),
            _gauges: Vec::new(),
        }
    }

    /// Starts what `s` asks for (binds the Prometheus endpoint; errors name the address or
    /// endpoint). Must run inside the Tokio runtime.
    pub async fn start(s: &Settings, scenario: &str, run_id: String) -> anyhow::Result<Self> {
        let mut t = Telemetry::off(run_id, scenario);
        if let Some(tr) = &s.traces {
            let exporter = settings::span_exporter(tr)?;
            let batch = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
                .with_batch_config(
                    opentelemetry_sdk::trace::BatchConfigBuilder::default()
                        .with_max_queue_size(65_536)
                        .build(),
                )
                .build();
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_span_processor(batch)
                .with_resource(resource(s, scenario, &t.run_id))
                .build();
            traces::start(&provider)?;
            t.tracer = Some((provider, tr.endpoint.clone()));
            t.sample_ratio = tr.sample_ratio;
        }
        if s.metrics.is_none() && s.prometheus.is_none() {
            return Ok(t);
        }
        let resource = resource(s, scenario, &t.run_id);
        let mut b = SdkMeterProvider::builder().with_resource(resource);
        if let Some(p) = &s.prometheus {
            let registry = ::prometheus::Registry::new();
            let exporter = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .build()
                .context("building the Prometheus exporter")?;
            b = b.with_reader(exporter);
            let server = prometheus::serve(p.listen, registry).await?;
            t.prom = Some((server, p.linger));
        }
        if let Some(m) = &s.metrics {
            let exporter = settings::metric_exporter(m)?;
            let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
                .with_interval(m.interval)
                .build();
            b = b.with_reader(reader);
            t.otlp_metrics = Some(m.endpoint.clone());
        }
        let provider = b.build();
        // Figures recorded on the global meter (report/capacity.rs) are exported too.
        opentelemetry::global::set_meter_provider(provider.clone());
        let meter = provider.meter("loadgen");
        t._gauges = memory_gauges(&meter, t.latest.clone(), t.attrs());
        t.meter = Some(meter);
        t.meters = Some(provider);
        Ok(t)
    }

    /// The trace sampler of one driver (never samples when traces are off).
    pub fn sampler(&self, seed: u64) -> traces::Sampler {
        if self.tracer.is_some() {
            traces::Sampler::new(self.sample_ratio, seed)
        } else {
            traces::Sampler::off()
        }
    }

    /// The meter the cache records on (None: metrics off).
    pub fn meter(&self) -> Option<&Meter> {
        self.meter.as_ref()
    }

    /// Where the Prometheus endpoint listens (its port when bound to port 0).
    pub fn prometheus_addr(&self) -> Option<std::net::SocketAddr> {
        self.prom.as_ref().map(|(s, _)| s.addr)
    }

    /// `loadgen.scenario` (added to every metric).
    pub fn attrs(&self) -> Vec<KeyValue> {
        vec![KeyValue::new(attr::SCENARIO, self.scenario.clone())]
    }

    /// The instruments a workload's drivers record on. `flow` is the workload's
    /// `tokencache.flow`; `None` (a web app) tells each acquisition's flow from its result:
    /// `authorization_code` for a sign-in, `silent` for the rest.
    pub fn workload(&self, name: &str, flow: Option<&str>) -> Option<Arc<WorkloadMetrics>> {
        let meter = self.meter.as_ref()?;
        let mut attrs = self.attrs();
        attrs.push(KeyValue::new(attr::WORKLOAD, name.to_owned()));
        let flows = match flow {
            Some(flow) => {
                attrs.push(KeyValue::new(attr::FLOW, flow.to_owned()));
                vec![None]
            }
            None => vec![Some(WEB_SIGN_IN), Some(WEB_SILENT)],
        };
        Some(Arc::new(WorkloadMetrics::new(meter, attrs, flows)))
    }

    /// `tokencache.idp.requests`, with `loadgen.scenario`.
    pub fn idp_counter(&self) -> Option<(Counter<u64>, Vec<KeyValue>)> {
        let meter = self.meter.as_ref()?;
        let c = meter
            .u64_counter(names::IDP_REQUESTS)
            .with_description("Requests to the identity provider's token endpoint")
            .build();
        Some((c, self.attrs()))
    }

    /// Where the sampler puts its samples for the gauges (None: metrics off).
    pub fn latest_sample(&self) -> Option<Arc<Mutex<Option<MemSample>>>> {
        self.meter.as_ref().map(|_| self.latest.clone())
    }

    /// Makes `s` the sample the memory gauges report.
    pub fn memory_sample(&self, s: &MemSample) {
        if self.meter.is_some() {
            *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(*s);
        }
    }

    /// Keeps the Prometheus endpoint up for its linger time, then flushes and shuts the
    /// providers down (at most [`SHUTDOWN_LIMIT`]). Errors name the endpoint.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let Telemetry {
            meters,
            prom,
            otlp_metrics,
            tracer,
            ..
        } = self;
        let mut errors = Vec::new();
        if let Some((p, endpoint)) = tracer {
            traces::stop();
            let what = format!("exporting spans to {}", endpoint.url);
            if let Err(e) = bounded(&what, move || p.shutdown().map_err(|e| e.to_string())).await {
                errors.push(e);
            }
        }
        if let Some((server, linger)) = prom {
            if !linger.is_zero() {
                eprintln!(
                    "  prometheus: serving http://{}/metrics for {:?} more (Ctrl-C ends it)",
                    server.addr, linger
                );
                tokio::select! {
                    () = tokio::time::sleep(linger) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            server.stop().await;
        }
        if let Some(p) = meters {
            let what = match &otlp_metrics {
                Some(e) => format!("exporting metrics to {}", e.url),
                None => "shutting down the meter provider".to_owned(),
            };
            if let Err(e) = bounded(&what, move || p.shutdown().map_err(|e| e.to_string())).await {
                errors.push(e);
            }
        }
        match errors.len() {
            0 => Ok(()),
            _ => Err(anyhow::anyhow!(errors
                .iter()
                .map(|e| format!("{e:#}"))
                .collect::<Vec<_>>()
                .join("; "))),
        }
    }
}

/// Runs a blocking flush/shutdown on the blocking pool, giving up after [`SHUTDOWN_LIMIT`].
async fn bounded(
    what: &str,
    f: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> anyhow::Result<()> {
    match tokio::time::timeout(SHUTDOWN_LIMIT, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => anyhow::bail!("{what}: {e}"),
        Ok(Err(e)) => anyhow::bail!("{what}: {e}"),
        Err(_) => anyhow::bail!("{what}: no answer within {SHUTDOWN_LIMIT:?}"),
    }
}

/// service.name (`OTEL_SERVICE_NAME`, default "loadgen"), `OTEL_RESOURCE_ATTRIBUTES`,
/// `loadgen.scenario` and `loadgen.run.id`.
pub(crate) fn resource(s: &Settings, scenario: &str, run_id: &str) -> Resource {
    let mut b = Resource::builder();
    if s.service_name_default {
        b = b.with_service_name("loadgen");
    }
    b.with_attributes([
        KeyValue::new(attr::SCENARIO, scenario.to_owned()),
        KeyValue::new(attr::RUN_ID, run_id.to_owned()),
    ])
    .build()
}

/// `tokencache.l1.size` / `l1.entries` / `l2.size` / `l2.keys` / `process.memory.usage`
/// from the latest memory sample (the report's samples: the same figures).
fn memory_gauges(
    meter: &Meter,
    latest: Arc<Mutex<Option<MemSample>>>,
    attrs: Vec<KeyValue>,
) -> Vec<ObservableGauge<u64>> {
    let gauge =
        |name: &'static str, unit: &'static str, d: &'static str, f: fn(&MemSample) -> u64| {
            let (latest, attrs) = (latest.clone(), attrs.clone());
            let mut b = meter.u64_observable_gauge(name).with_description(d);
            if !unit.is_empty() {
                b = b.with_unit(unit);
            }
            b.with_callback(move |o| {
                if let Some(s) = *latest.lock().unwrap_or_else(|p| p.into_inner()) {
                    o.observe(f(&s), &attrs);
                }
            })
            .build()
        };
    vec![
        gauge(
            names::L1_SIZE,
            "By",
            "Bytes held by L1 (serialized partition sizes)",
            |s| s.l1_bytes,
        ),
        gauge(names::L1_ENTRIES, "", "Partitions held by L1", |s| {
            s.l1_entries
        }),
        gauge(names::L2_SIZE, "By", "Bytes held by the L2 store", |s| {
            s.l2_bytes
        }),
        gauge(names::L2_KEYS, "", "Keys held by the L2 store", |s| {
            s.l2_keys
        }),
        gauge(
            names::PROCESS_MEMORY,
            "By",
            "Resident set size of the load generator",
            |s| s.rss_bytes,
        ),
    ]
}

/// The per-acquisition instruments of one workload, with its attributes
/// (`loadgen.scenario`, `loadgen.workload`, `tokencache.flow`).
#[derive(Debug)]
pub struct WorkloadMetrics {
    total: Histogram<f64>,
    in_cache: Histogram<f64>,
    in_http: Histogram<f64>,
    acquisitions: Counter<u64>,
    failures: Counter<u64>,
    attrs: Vec<KeyValue>,
    /// The `tokencache.flow` values told per acquisition (a web app: sign-in, silent), or
    /// `[None]` when `attrs` carries the workload's one flow.
    flows: Vec<Option<&'static str>>,
    /// The acquisition counter's attribute sets by (flow, source, level, reason), built once
    /// each (an allocation per acquisition cost a third of the hit rate).
    sets: Vec<std::sync::OnceLock<Vec<KeyValue>>>,
    /// The duration histograms' attribute sets of successful iterations by flow: `attrs`
    /// (plus the flow) plus `tokencache.token_source` (cache, identity_provider).
    by_source: Vec<[Vec<KeyValue>; 2]>,
}

/// `tokencache.flow` of a web app's sign-in (the code redemption) and of its other calls.
const WEB_SIGN_IN: &str = "authorization_code";
const WEB_SILENT: &str = "silent";

/// Sets per flow in `WorkloadMetrics::sets`: (source, level, reason).
const SETS_PER_FLOW: usize = 2 * 3 * CacheRefreshReason::ALL.len();

impl WorkloadMetrics {
    fn new(meter: &Meter, attrs: Vec<KeyValue>, flows: Vec<Option<&'static str>>) -> Self {
        let h = |name: &'static str, d: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(d)
                .with_boundaries(names::DURATION_BUCKETS.to_vec())
                .build()
        };
        WorkloadMetrics {
            total: h(
                names::ACQUIRE_DURATION,
                "DurationTotal (open model: from the intended start)",
            ),
            in_cache: h(names::CACHE_DURATION, "DurationInCache"),
            in_http: h(names::HTTP_DURATION, "DurationInHttp"),
            acquisitions: meter
                .u64_counter(names::ACQUISITIONS)
                .with_description("Token acquisitions by source, cache level and refresh reason")
                .build(),
            failures: meter
                .u64_counter(names::FAILURES)
                .with_description("Acquisitions that failed")
                .build(),
            by_source: flows
                .iter()
                .map(|flow| {
                    [TokenSource::Cache, TokenSource::IdentityProvider].map(|src| {
                        let mut kv = attrs.clone();
                        if let Some(flow) = flow {
                            kv.push(KeyValue::new(attr::FLOW, *flow));
                        }
                        kv.push(KeyValue::new(attr::TOKEN_SOURCE, src.as_str()));
                        kv
                    })
                })
                .collect(),
            attrs,
            sets: (0..flows.len() * SETS_PER_FLOW)
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            flows,
        }
    }

    /// Records one iteration as the report does: DurationTotal for every iteration, the
    /// other durations and the acquisition counter for successful ones.
    /// Successful iterations' durations also carry `tokencache.token_source` (the
    /// dashboards' percentiles by workload and token source).
    pub fn record(&self, r: &Result<AuthResult, IterError>, total: Duration) {
        match r {
            Ok(a) => {
                let m = &a.metadata;
                let s = usize::from(m.token_source == TokenSource::IdentityProvider);
                // A web app's sign-in is its only acquisition from the identity provider
                // without a refresh reason (MSAL's NotApplicable): silent calls that go to
                // the identity provider always have one.
                let f = match self.flows.len() {
                    1 => 0,
                    _ => usize::from(
                        !(m.token_source == TokenSource::IdentityProvider
                            && m.cache_refresh_reason == CacheRefreshReason::NotApplicable),
                    ),
                };
                let by_source = &self.by_source[f][s];
                self.total.record(total.as_secs_f64(), by_source);
                self.in_cache
                    .record(m.duration_in_cache.as_secs_f64(), by_source);
                self.in_http
                    .record(m.duration_in_http.as_secs_f64(), by_source);
                let l = match m.cache_level {
                    CacheLevel::None => 0,
                    CacheLevel::L1 => 1,
                    CacheLevel::L2 => 2,
                };
                let r = CacheRefreshReason::ALL
                    .iter()
                    .position(|x| *x == m.cache_refresh_reason)
                    .unwrap_or(0);
                let i = f * SETS_PER_FLOW + (s * 3 + l) * CacheRefreshReason::ALL.len() + r;
                let kv = self.sets[i].get_or_init(|| {
                    let mut kv = self.attrs.clone();
                    if let Some(flow) = self.flows[f] {
                        kv.push(KeyValue::new(attr::FLOW, flow));
                    }
                    kv.push(KeyValue::new(attr::TOKEN_SOURCE, m.token_source.as_str()));
                    kv.push(KeyValue::new(attr::CACHE_LEVEL, m.cache_level.as_str()));
                    kv.push(KeyValue::new(
                        attr::REFRESH_REASON,
                        m.cache_refresh_reason.as_str(),
                    ));
                    kv
                });
                self.acquisitions.add(1, kv);
            }
            Err(_) => {
                self.total.record(total.as_secs_f64(), &self.attrs);
                self.failures.add(1, &self.attrs);
            }
        }
    }
}
