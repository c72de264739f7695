//! tokencache integration tests: one binary, one module per behaviour, real servers from testkit.

mod cache_tiers;
mod corrupt_blobs;
mod expiry_policy;
mod l1_eviction;
mod l2_failure_policy;
mod msal_python;
mod support;
mod write_behind;
