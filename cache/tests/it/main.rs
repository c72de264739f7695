//! tokencache integration tests: one binary, one module per behaviour, real servers from testkit.

mod cache_tiers;
mod client_errors;
mod client_expiry_buffer;
mod client_flows;
mod client_l2_outage;
mod client_proactive_refresh;
mod client_refresh_reasons;
mod client_retries;
mod client_single_flight;
mod client_support;
mod client_throttling;
mod codec_fuzz_corpus;
mod corrupt_blobs;
mod expiry_policy;
mod golden;
mod l1_eviction;
mod l2_conformance;
mod l2_failure_policy;
mod l2_outage;
mod l2_postgres;
mod l2_redis;
mod l2_redis_cluster;
mod metrics;
mod msal_python;
mod support;
mod write_behind;
