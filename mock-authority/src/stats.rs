//! Request statistics: token requests by grant and status, other endpoints, distinct
//! tenants, injected faults. Lock-free on the hot path except a read lock for tenants.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use serde::Serialize;

use crate::faults::FaultAction;
use crate::form::Grant;

/// Statuses counted individually; anything else counts as "other". 0 stands for no
/// response at all (a reset or a hang), reported as "no_response".
const STATUSES: [u16; 13] = [
    0, 200, 302, 400, 401, 403, 404, 408, 429, 500, 502, 503, 504,
];

/// Endpoints besides the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    /// OIDC discovery.
    OpenIdConfiguration,
    /// JWKS.
    Jwks,
    /// Authorize.
    Authorize,
    /// Instance discovery.
    InstanceDiscovery,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    by_grant_status: [[AtomicU64; STATUSES.len() + 1]; Grant::ALL.len()],
    endpoints: [AtomicU64; 4],
    faults_status: AtomicU64,
    faults_delay: AtomicU64,
    faults_reset: AtomicU64,
    faults_hang: AtomicU64,
    tenants: RwLock<HashSet<String>>,
}

/// A snapshot, as `GET /_admin/stats` returns it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Token requests.
    pub token_requests: u64,
    /// `{grant: {status: n}}`; status `no_response` for resets and hangs.
    pub by_grant: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    /// `{endpoint: n}`.
    pub endpoints: std::collections::BTreeMap<String, u64>,
    /// Number of distinct tenants seen by the token endpoint.
    pub distinct_tenants: u64,
    /// Injected faults by kind (`status`, `delay`, `reset`, `hang`).
    pub faults_injected: std::collections::BTreeMap<String, u64>,
}

impl StatsSnapshot {
    /// Requests for `grant` (stats name) with `status`.
    pub fn count(&self, grant: &str, status: u16) -> u64 {
        self.by_grant
            .get(grant)
            .and_then(|m| m.get(&status.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// All requests for `grant`.
    pub fn grant_total(&self, grant: &str) -> u64 {
        self.by_grant.get(grant).map_or(0, |m| m.values().sum())
    }
}

impl Stats {
    pub(crate) fn record_token(&self, grant: Grant, status: u16) {
        let slot = STATUSES
            .iter()
            .position(|&s| s == status)
            .unwrap_or(STATUSES.len());
        self.by_grant_status[grant.index()][slot].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_endpoint(&self, e: Endpoint) {
        self.endpoints[e as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_fault(&self, a: &FaultAction) {
        let c = match a {
            FaultAction::Status { .. } => &self.faults_status,
            FaultAction::Delay { .. } => &self.faults_delay,
            FaultAction::Reset => &self.faults_reset,
            FaultAction::Hang => &self.faults_hang,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_tenant(&self, tenant: &str) {
        let known = self
            .tenants
            .read()
            .map(|s| s.contains(tenant))
            .unwrap_or(true);
        if !known {
            if let Ok(mut s) = self.tenants.write() {
                s.insert(tenant.to_owned());
            }
        }
    }

    pub(crate) fn reset(&self) {
        for row in &self.by_grant_status {
            for c in row {
                c.store(0, Ordering::Relaxed);
            }
        }
        for c in self.endpoints.iter().chain([
            &self.faults_status,
            &self.faults_delay,
            &self.faults_reset,
            &self.faults_hang,
        ]) {
            c.store(0, Ordering::Relaxed);
        }
        if let Ok(mut s) = self.tenants.write() {
            s.clear();
        }
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let mut by_grant = std::collections::BTreeMap::new();
        let mut total = 0;
        for g in Grant::ALL {
            let mut m = std::collections::BTreeMap::new();
            for (i, c) in self.by_grant_status[g.index()].iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let key = match STATUSES.get(i) {
                        Some(0) => "no_response".to_string(),
                        Some(s) => s.to_string(),
                        None => "other".to_string(),
                    };
                    m.insert(key, n);
                    total += n;
                }
            }
            if !m.is_empty() {
                by_grant.insert(g.as_str().to_string(), m);
            }
        }
        let names = [
            "openid_configuration",
            "jwks",
            "authorize",
            "instance_discovery",
        ];
        let endpoints = names
            .iter()
            .zip(&self.endpoints)
            .map(|(n, c)| (n.to_string(), c.load(Ordering::Relaxed)))
            .collect();
        let faults_injected = [
            ("status", &self.faults_status),
            ("delay", &self.faults_delay),
            ("reset", &self.faults_reset),
            ("hang", &self.faults_hang),
        ]
        .into_iter()
        .map(|(n, c)| (n.to_string(), c.load(Ordering::Relaxed)))
        .collect();
        StatsSnapshot {
            token_requests: total,
            by_grant,
            endpoints,
            distinct_tenants: self.tenants.read().map_or(0, |s| s.len() as u64),
            faults_injected,
        }
    }
}
