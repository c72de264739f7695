//! Web-app sessions: sign in if needed, a geometric number of silent acquisitions (the
//! configured mean) `think_time` apart on the run's clock, then sign out — the account's
//! partition is removed — when no other session of the user is running. Each request is
//! measured from its own intended start.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokencache::client::{AcquireOptions, AuthResult};
use tokencache::model::keys::partition;
use tokencache::SharedClock;

use super::drivers::wait_until;
use super::flows::{tenant, FlowCtx, IterError};
use crate::scenario::model::{FlowSpec, Session};

/// Requests in a session: 1 + a geometric number with mean `mean - 1`.
fn requests(mean: f64, rng: &mut StdRng) -> u64 {
    if mean <= 1.0 {
        return 1;
    }
    let p = 1.0 / mean;
    let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    1 + (u.ln() / (1.0 - p).ln()).floor() as u64
}

/// What a session records: each acquisition and its latency from its intended start.
pub type Record<'a> = dyn FnMut(&Result<AuthResult, IterError>, Duration) + Send + 'a;

/// When a session must stop early.
#[derive(Debug, Clone, Copy)]
pub struct Bounds<'a> {
    pub deadline: Instant,
    pub stop: &'a AtomicBool,
}

impl FlowCtx {
    /// The session settings, when this workload runs sessions.
    pub fn session_spec(&self) -> Option<&Session> {
        match &self.spec {
            FlowSpec::WebApp { session, .. } => session.as_ref(),
            _ => None,
        }
    }

    /// Runs one session of `user` starting at `intended`.
    pub async fn session(
        &self,
        user: u64,
        seed: u64,
        intended: Instant,
        clock: &SharedClock,
        bounds: Bounds<'_>,
        record: &mut Record<'_>,
    ) {
        let (
            FlowSpec::WebApp {
                resources,
                tenants,
                session: Some(s),
                ..
            },
            Some(sign_ins),
        ) = (&self.spec, &self.sign_ins)
        else {
            return;
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let n = requests(s.requests_mean, &mut rng);
        let t = tenant(user % tenants);
        let state = sign_ins.state(user);
        let first_scope = resources[rng.random_range(0..resources.len())].clone();
        let signed_in = {
            let mut st = state.lock().await;
            st.active += 1;
            self.ensure_signed_in(&mut st, user, &t, &first_scope).await
        };
        let mut next_scope = Some(first_scope);
        match signed_in {
            Err(e) => record(&Err(e), intended.elapsed()),
            Ok((account, first)) => {
                let mut first = first;
                for j in 0..n {
                    let at = intended + clock.to_real(s.think_time.mul_f64(j as f64));
                    if j > 0 {
                        if at >= bounds.deadline || bounds.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        wait_until(at).await;
                    }
                    let scope = next_scope
                        .take()
                        .unwrap_or_else(|| resources[rng.random_range(0..resources.len())].clone());
                    let r = match first.take() {
                        Some(r) => Ok(r),
                        None => self
                            .client
                            .acquire_token_silent(
                                &account,
                                &[scope.as_str()],
                                &AcquireOptions::default(),
                            )
                            .await
                            .map_err(IterError::Acquire),
                    };
                    record(&r, at.elapsed());
                }
            }
        }
        let mut st = state.lock().await;
        st.active -= 1;
        if st.active == 0 && s.sign_out {
            if let (Some(a), Some(cache)) = (st.account.take(), self.client.cache()) {
                let _ = cache.remove(&partition::user(&a.home_account_id)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lengths_have_the_configured_mean() {
        let mut rng = StdRng::seed_from_u64(3);
        let n = 20_000;
        let total: u64 = (0..n).map(|_| requests(20.0, &mut rng)).sum();
        let mean = total as f64 / n as f64;
        assert!((mean - 20.0).abs() < 0.6, "{mean}");
        assert_eq!(requests(1.0, &mut rng), 1);
    }
}
