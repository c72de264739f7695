//! Mock Microsoft Entra ID: the issuing logic ([`Authority`]), an HTTPS/HTTP server for it
//! ([`server`]), latency models and fault rules ([`faults`]), and a wiremock adapter
//! (feature `wiremock`). Real MSAL Python and msal-node clients work against it.

pub mod authority;
mod client_auth;
pub mod config;
mod der;
pub mod error;
pub mod faults;
pub mod form;
mod grants;
pub mod jwt;
pub mod keys;
pub mod oauth_error;
#[cfg(feature = "otlp")]
pub mod otel;
mod routes;
pub mod server;
pub mod stats;
mod store;
pub mod time;
pub mod tls;
pub mod tokens;
pub mod users;
#[cfg(any(test, feature = "wiremock"))]
pub mod wiremock_adapter;

pub use authority::{Action, Authority, Decision, Reply, TokenRequest};
pub use config::{AppConfig, AuthorityConfig, Lifetimes, UserConfig};
pub use error::{ConfigError, SetupError};
pub use faults::{FaultAction, FaultMatch, FaultRule, FaultTrigger, LatencyModel, TimeWindow};
pub use form::Grant;
pub use keys::SigningAlg;
pub use oauth_error::EntraError;
pub use server::{serve, start_in_process, ServerHandle, ServerOptions, TlsMode};
pub use stats::StatsSnapshot;
pub use time::{ManualTimeSource, SystemTimeSource, TimeSource};
pub use tokens::UserAssertion;
pub use users::User;
