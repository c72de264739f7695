//! The validated scenario: what the runner sees. Built only by [`super::load`], so every
//! value here has been checked (units parsed, references resolved, ranges respected).

use std::path::PathBuf;
use std::time::Duration;

use mock_authority::{FaultRule, LatencyModel, SigningAlg};
use tokencache::config::StoreSpec;
use tokencache::FailurePolicy;

use crate::thresholds::Threshold;

/// A checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The file it was read from (as given).
    pub file: String,
    pub seed: u64,
    /// Measured phase, virtual time.
    pub duration: Duration,
    /// Virtual seconds per wall second.
    pub speed: f64,
    pub populate: bool,
    pub authority: AuthoritySpec,
    pub cache: CacheSpec,
    pub apps: Vec<App>,
    pub workloads: Vec<Workload>,
    /// Virtual time between memory samples.
    pub memory_sample_every: Duration,
    /// Virtual time per interval histogram of intervals.hlog.
    pub interval: Duration,
    /// `telemetry.traces` / `metrics` / `prometheus` (OTLP export and the scrape endpoint).
    pub export: ExportSpec,
    pub thresholds: Vec<Threshold>,
    /// `run --instance I/N`: this process drives instance I's share of the workload.
    pub instance: Option<Instance>,
}

impl Scenario {
    /// This scenario as instance `i` of a multi-instance run: each workload must leave every
    /// instance at least one member and (closed model) one caller.
    pub fn with_instance(mut self, i: Instance) -> Result<Scenario, String> {
        if i.count == 0 || i.index >= i.count {
            return Err(format!(
                "--instance {}/{}: the index must be in 0..{} (0-based, as JOB_COMPLETION_INDEX)",
                i.index, i.count, i.count
            ));
        }
        for w in &self.workloads {
            let members = w.flow.members();
            if members < u64::from(i.count) {
                return Err(format!(
                    "--instance {}/{}: workload {:?} has {members} tenants/users, too few for {} instances",
                    i.index, i.count, w.name, i.count
                ));
            }
            if let Arrival::Concurrency(n) = w.arrival {
                if n < i.count {
                    return Err(format!(
                        "--instance {}/{}: workload {:?} has concurrency {n}, too little for {} instances",
                        i.index, i.count, w.name, i.count
                    ));
                }
            }
        }
        self.instance = Some(i);
        Ok(self)
    }
}

/// One of `count` instances of a multi-instance run (index 0-based, as Kubernetes'
/// `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub index: u32,
    pub count: u32,
}

/// Which identity provider the run talks to.
#[derive(Debug, Clone)]
pub enum AuthoritySpec {
    /// The mock authority, in process, on the run's clock.
    Embedded(EmbeddedSpec),
    /// An Entra-shaped authority over HTTP(S).
    External {
        url: String,
        ca_file: Option<PathBuf>,
    },
}

/// Settings of the embedded mock authority.
#[derive(Debug, Clone)]
pub struct EmbeddedSpec {
    pub token_lifetime: Duration,
    pub ext_lifetime: Duration,
    pub refresh_in: Option<Duration>,
    pub signing: SigningAlg,
    pub latency: LatencyModel,
    pub faults: Vec<FaultRule>,
}

impl Default for EmbeddedSpec {
    fn default() -> Self {
        EmbeddedSpec {
            token_lifetime: Duration::from_secs(3599),
            ext_lifetime: Duration::from_secs(3599),
            refresh_in: None,
            signing: SigningAlg::ES256,
            latency: LatencyModel::None,
            faults: Vec::new(),
        }
    }
}

/// The token cache under test.
#[derive(Debug, Clone)]
pub struct CacheSpec {
    /// L1 byte bound; `None` = L1 disabled.
    pub l1_max_bytes: Option<u64>,
    pub store: StoreSpec,
    pub namespace: String,
    /// Environment variable holding the encryption key; `None` = no encryption.
    pub encrypt_key_env: Option<String>,
    pub sliding_expiration: Option<Duration>,
    pub async_write: bool,
    pub timeout: Duration,
    pub on_failure: FailurePolicy,
    pub synchronization: bool,
    pub single_flight: bool,
}

/// A confidential client application.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub client_id: String,
    pub secret: String,
}

/// How a population member is chosen for each iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pick {
    Uniform,
    Zipf(f64),
    RoundRobin,
}

/// What one iteration of a workload does.
#[derive(Debug, Clone)]
pub enum FlowSpec {
    /// App tokens for `tenants` × `resources`.
    ClientCredentials {
        tenants: u64,
        pick: Pick,
        resources: Vec<String>,
    },
    /// Callers arrive with upstream assertions minted by the embedded mock; one partition
    /// per assertion; a user's assertion is renewed when `assertion_lifetime` runs out.
    OnBehalfOf {
        users: u64,
        tenants: u64,
        pick: Pick,
        assertion_lifetime: Duration,
        resources: Vec<String>,
    },
    /// Users sign in by the authorization-code flow against the embedded mock, then acquire
    /// silently for one of `resources` (refresh token when the access token is missing or
    /// expired). Without `session` every iteration is one acquisition for one user × resource;
    /// with it every iteration is a session of requests separated by think time.
    WebApp {
        users: u64,
        tenants: u64,
        pick: Pick,
        resources: Vec<String>,
        session: Option<Session>,
    },
}

/// A web-app session: sign in if needed, `requests` silent acquisitions (geometric, this
/// mean) `think_time` apart, then sign out (the account's partition is removed) when no
/// other session of the user is running.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub requests_mean: f64,
    pub think_time: Duration,
    pub sign_out: bool,
}

impl FlowSpec {
    pub fn name(&self) -> &'static str {
        match self {
            FlowSpec::ClientCredentials { .. } => "client_credentials",
            FlowSpec::OnBehalfOf { .. } => "on_behalf_of",
            FlowSpec::WebApp { .. } => "web_app",
        }
    }

    /// What a pick chooses from: users for web-app sessions, else [`Self::population`].
    pub fn pick_population(&self) -> u64 {
        match self {
            FlowSpec::WebApp {
                users,
                session: Some(_),
                ..
            } => *users,
            _ => self.population(),
        }
    }

    /// Tenants (client credentials) or users: what instances of a multi-instance run split.
    pub fn members(&self) -> u64 {
        match self {
            FlowSpec::ClientCredentials { tenants, .. } => *tenants,
            FlowSpec::OnBehalfOf { users, .. } | FlowSpec::WebApp { users, .. } => *users,
        }
    }

    /// Consecutive population indexes per member: the resources (1 for web-app sessions,
    /// whose picks choose users).
    pub fn pick_stride(&self) -> u64 {
        match self {
            FlowSpec::WebApp {
                session: Some(_), ..
            } => 1,
            _ => self.resource_count(),
        }
    }

    pub fn resource_count(&self) -> u64 {
        match self {
            FlowSpec::ClientCredentials { resources, .. }
            | FlowSpec::OnBehalfOf { resources, .. }
            | FlowSpec::WebApp { resources, .. } => resources.len().max(1) as u64,
        }
    }

    /// Distinct partitions × resources (what `populate` warms).
    pub fn population(&self) -> u64 {
        match self {
            FlowSpec::ClientCredentials {
                tenants, resources, ..
            } => tenants * resources.len() as u64,
            FlowSpec::OnBehalfOf {
                users, resources, ..
            }
            | FlowSpec::WebApp {
                users, resources, ..
            } => users * resources.len() as u64,
        }
    }
}

/// Open or closed arrival model.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    /// Constant rate, iterations per virtual second.
    Rate(f64),
    /// Ramping rate: each stage goes linearly from the previous target to its own.
    Stages(Vec<Stage>),
    /// Closed model: this many callers in a loop.
    Concurrency(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    /// Iterations per virtual second at the end of the stage.
    pub target: f64,
}

/// A workload: a flow, a population and an arrival model.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub app: usize,
    pub flow: FlowSpec,
    pub arrival: Arrival,
    /// Open model: iterations in flight at most; beyond, arrivals are dropped (counted).
    pub max_in_flight: u32,
}

/// OTLP wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

impl OtlpProtocol {
    pub const NAMES: [&'static str; 2] = ["grpc", "http/protobuf"];
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "grpc" => Some(Self::Grpc),
            "http/protobuf" => Some(Self::HttpProtobuf),
            _ => None,
        }
    }
}

/// `telemetry.traces`.
#[derive(Debug, Clone, PartialEq)]
pub struct TracesSpec {
    pub endpoint: Option<String>,
    pub protocol: Option<OtlpProtocol>,
    /// Share of acquisitions traced, 0..=1.
    pub sample_ratio: Option<f64>,
}

/// `telemetry.metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSpec {
    pub endpoint: Option<String>,
    pub protocol: Option<OtlpProtocol>,
    /// Export interval (wall time).
    pub interval: Option<Duration>,
}

/// `telemetry.prometheus`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusSpec {
    pub listen: std::net::SocketAddr,
    /// How long the endpoint keeps serving after the run (wall time), for a last scrape.
    pub linger: Duration,
}

/// Telemetry export as the scenario asks for it (the `OTEL_*` environment and
/// `--prometheus-listen` win; see [`crate::telemetry`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportSpec {
    pub traces: Option<TracesSpec>,
    pub metrics: Option<MetricsSpec>,
    pub prometheus: Option<PrometheusSpec>,
}
