//! Open-model arrival times: the k-th arrival (k = 0, 1, ...) is due when the integral of
//! the rate reaches k + ½, so a constant rate r puts arrivals at (k + ½)/r. Stages ramp
//! linearly from the previous target (0 before the first stage); after the last stage no
//! more arrivals come.

use std::time::Duration;

use crate::scenario::model::{Arrival, Stage};

/// Piecewise-linear rate segments: (length in virtual seconds, start rate, end rate).
#[derive(Debug, Clone)]
pub struct Schedule {
    segments: Vec<(f64, f64, f64)>,
}

impl Schedule {
    /// `None` for the closed model.
    pub fn new(arrival: &Arrival, duration: Duration) -> Option<Self> {
        let segments = match arrival {
            Arrival::Rate(r) => vec![(duration.as_secs_f64(), *r, *r)],
            Arrival::Stages(stages) => {
                let mut prev = 0.0;
                stages
                    .iter()
                    .map(|Stage { duration, target }| {
                        let s = (duration.as_secs_f64(), prev, *target);
                        prev = *target;
                        s
                    })
                    .collect()
            }
            Arrival::Concurrency(_) => return None,
        };
        Some(Schedule { segments })
    }

    /// Virtual seconds from the start of the phase at which arrival `k` is due.
    pub fn offset(&self, k: u64) -> Option<f64> {
        let mut need = k as f64 + 0.5;
        let mut start = 0.0;
        for &(len, r0, r1) in &self.segments {
            let count = (r0 + r1) / 2.0 * len;
            if need <= count && len > 0.0 {
                // Solve r0·τ + (r1 − r0)·τ²/(2·len) = need for τ in [0, len].
                let a = (r1 - r0) / (2.0 * len);
                let tau = if a.abs() < 1e-12 {
                    need / r0
                } else {
                    (-r0 + (r0 * r0 + 4.0 * a * need).max(0.0).sqrt()) / (2.0 * a)
                };
                return Some(start + tau.clamp(0.0, len));
            }
            need -= count;
            start += len;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_arrives_mid_interval() {
        let s = Schedule::new(&Arrival::Rate(2.0), Duration::from_secs(2)).unwrap();
        let v: Vec<f64> = (0..5).filter_map(|k| s.offset(k)).collect();
        assert_eq!(v, [0.25, 0.75, 1.25, 1.75]);
    }

    #[test]
    fn stages_ramp_linearly() {
        let stages = vec![
            Stage {
                duration: Duration::from_secs(10),
                target: 10.0,
            },
            Stage {
                duration: Duration::from_secs(10),
                target: 10.0,
            },
        ];
        let s = Schedule::new(&Arrival::Stages(stages), Duration::from_secs(20)).unwrap();
        // 50 arrivals in the ramp, 100 in the plateau.
        let n = (0..1000).take_while(|k| s.offset(*k).is_some()).count();
        assert_eq!(n, 150);
        let t = s.offset(49).unwrap();
        assert!((t - (99.0f64).sqrt()).abs() < 1e-9, "{t}");
    }
}
