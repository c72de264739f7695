//! Latency models and fault rules. The library computes delays and actions; the server (or
//! an embedding load generator, which may scale them) carries them out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::form::Grant;

/// Latency added to token responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LatencyModel {
    /// No added latency.
    #[default]
    None,
    /// Always `ms`.
    Fixed {
        /// Milliseconds.
        ms: f64,
    },
    /// Uniform between `min_ms` and `max_ms`.
    Uniform {
        /// Lower bound, ms.
        min_ms: f64,
        /// Upper bound, ms.
        max_ms: f64,
    },
    /// Log-normal with the given median and 99th percentile.
    Lognormal {
        /// Median, ms.
        median_ms: f64,
        /// 99th percentile, ms (≥ median).
        p99_ms: f64,
    },
}

/// z of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874;

impl LatencyModel {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            LatencyModel::None => true,
            LatencyModel::Fixed { ms } => ms >= 0.0 && ms.is_finite(),
            LatencyModel::Uniform { min_ms, max_ms } => {
                min_ms >= 0.0 && max_ms >= min_ms && max_ms.is_finite()
            }
            LatencyModel::Lognormal { median_ms, p99_ms } => {
                median_ms > 0.0 && p99_ms >= median_ms && p99_ms.is_finite()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("invalid latency model {self:?}"))
        }
    }

    /// Draws one delay.
    pub fn sample(&self) -> Duration {
        let ms = match *self {
            LatencyModel::None => return Duration::ZERO,
            LatencyModel::Fixed { ms } => ms,
            LatencyModel::Uniform { min_ms, max_ms } => {
                if max_ms > min_ms {
                    rand::rng().random_range(min_ms..max_ms)
                } else {
                    min_ms
                }
            }
            LatencyModel::Lognormal { median_ms, p99_ms } => {
                let sigma = (p99_ms / median_ms).ln() / Z99;
                median_ms * (sigma * standard_normal()).exp()
            }
        };
        Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
}

/// Box–Muller.
fn standard_normal() -> f64 {
    let mut rng = rand::rng();
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Which requests a rule applies to; absent fields match everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FaultMatch {
    /// Tenant path segment.
    pub tenant: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// Grant.
    pub grant: Option<Grant>,
    /// Requested scope contains this string.
    pub scope: Option<String>,
}

/// When a matching rule fires; all given conditions must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FaultTrigger {
    /// Probability in [0, 1].
    pub probability: Option<f64>,
    /// Every n-th matching request (1 = every one).
    pub every_nth: Option<u64>,
    /// Seconds since the authority started (on its time source): `[from_s, to_s)`.
    pub window: Option<TimeWindow>,
}

/// A window relative to the authority's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Start, seconds since start (inclusive).
    pub from_s: f64,
    /// End, seconds since start (exclusive).
    pub to_s: f64,
}

/// What a firing rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this status (429, 5xx...) and an optional Retry-After.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        #[serde(default)]
        retry_after_s: Option<u64>,
    },
    /// Answer normally after an extra delay.
    Delay {
        /// Milliseconds.
        ms: f64,
    },
    /// Reset the connection (TCP RST) without answering.
    Reset,
    /// Never answer (until the client gives up).
    Hang,
}

/// A fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// A label for statistics.
    #[serde(default)]
    pub name: Option<String>,
    /// Which requests.
    #[serde(default, rename = "match")]
    pub matches: FaultMatch,
    /// When.
    #[serde(default)]
    pub when: FaultTrigger,
    /// What.
    pub action: FaultAction,
}

impl FaultRule {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(p) = self.when.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("probability {p} not in [0, 1]"));
            }
        }
        if self.when.every_nth == Some(0) {
            return Err("every_nth must be ≥ 1".into());
        }
        match self.action {
            FaultAction::Status { status, .. } if !(100..=599).contains(&status) => {
                Err(format!("status {status} is not an HTTP status"))
            }
            FaultAction::Delay { ms } if !(ms >= 0.0 && ms.is_finite()) => {
                Err(format!("delay {ms} ms"))
            }
            _ => Ok(()),
        }
    }
}

/// What the request is, for matching.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// Tenant path segment.
    pub tenant: &'a str,
    /// `client_id` (empty if none).
    pub client_id: &'a str,
    /// Grant.
    pub grant: Grant,
    /// `scope` (empty if none).
    pub scope: &'a str,
}

/// The rules in force, with their counters.
#[derive(Debug, Default)]
pub struct FaultSet {
    rules: Vec<(FaultRule, AtomicU64)>,
}

/// The outcome of the fault rules for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultEffect {
    /// No terminal fault (there may be an extra delay).
    None,
    /// Answer with a status.
    Status {
        /// HTTP status.
        status: u16,
        /// Retry-After seconds.
        retry_after_s: Option<u64>,
    },
    /// Reset the connection.
    Reset,
    /// Never answer.
    Hang,
}

impl FaultSet {
    /// Builds from validated rules.
    pub fn new(rules: Vec<FaultRule>) -> Result<Self, String> {
        for r in &rules {
            r.validate()?;
        }
        Ok(Self {
            rules: rules.into_iter().map(|r| (r, AtomicU64::new(0))).collect(),
        })
    }

    /// The rules (for the admin API).
    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|(r, _)| r.clone()).collect()
    }

    /// Evaluates the rules: every firing delay rule adds its delay; the first firing
    /// terminal rule decides the effect. `since_start_s` is measured on the time source.
    pub fn evaluate(
        &self,
        facts: &RequestFacts<'_>,
        since_start_s: f64,
    ) -> (Duration, FaultEffect, Option<&FaultAction>) {
        let mut delay = Duration::ZERO;
        for (rule, counter) in &self.rules {
            if !matches(&rule.matches, facts) {
                continue;
            }
            if let Some(w) = &rule.when.window {
                if since_start_s < w.from_s || since_start_s >= w.to_s {
                    continue;
                }
            }
            if let Some(n) = rule.when.every_nth {
                let seen = counter.fetch_add(1, Ordering::Relaxed) + 1;
                if seen % n != 0 {
                    continue;
                }
            }
            if let Some(p) = rule.when.probability {
                if rand::rng().random::<f64>() >= p {
                    continue;
                }
            }
            let effect = match rule.action {
                FaultAction::Delay { ms } => {
                    delay += Duration::from_secs_f64(ms / 1000.0);
                    continue;
                }
                FaultAction::Status {
                    status,
                    retry_after_s,
                } => FaultEffect::Status {
                    status,
                    retry_after_s,
                },
                FaultAction::Reset => FaultEffect::Reset,
                FaultAction::Hang => FaultEffect::Hang,
            };
            return (delay, effect, Some(&rule.action));
        }
        (delay, FaultEffect::None, None)
    }

    /// True when there are no rules (fast path).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn matches(m: &FaultMatch, f: &RequestFacts<'_>) -> bool {
    m.tenant
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case(f.tenant))
        && m.client_id.as_deref().is_none_or(|c| c == f.client_id)
        && m.grant.is_none_or(|g| g == f.grant)
        && m.scope.as_deref().is_none_or(|s| f.scope.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_median_and_p99_are_roughly_right() {
        let m = LatencyModel::Lognormal {
            median_ms: 10.0,
            p99_ms: 100.0,
        };
        let mut v: Vec<f64> = (0..20_000)
            .map(|_| m.sample().as_secs_f64() * 1000.0)
            .collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let (p50, p99) = (v[10_000], v[19_800]);
        assert!((8.5..11.5).contains(&p50), "p50 {p50}");
        assert!((80.0..125.0).contains(&p99), "p99 {p99}");
    }
}
