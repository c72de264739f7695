//! abortOnFail: on every interval boundary the thresholds marked `abortOnFail` (past their
//! `delayAbortEval`) are evaluated on what the run measured so far; the first that fails
//! stops the run and is recorded (which threshold, its value, when).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::authority::Counting;
use super::drivers::{lock, Interval, Shared};
use super::memory::MemSample;
use super::stats::WorkloadStats;
use crate::report::observe::{evaluate_one, Aborted, Inputs};
use crate::thresholds::Threshold;

/// What the interval logger needs to evaluate abortOnFail thresholds.
#[derive(Debug)]
pub struct AbortWatch {
    /// The abortOnFail thresholds only.
    pub thresholds: Vec<Threshold>,
    pub names: Vec<String>,
    pub idp: Arc<Counting>,
    pub memory: Arc<Mutex<Vec<MemSample>>>,
    pub start: Instant,
    pub stop: Arc<AtomicBool>,
    /// Set (once) when a threshold aborted the run.
    pub aborted: Arc<Mutex<Option<Aborted>>>,
}

impl AbortWatch {
    /// Evaluates at the boundary `at_s` (virtual seconds since the start); on a failure
    /// records it and stops the run. Returns whether the run was aborted.
    pub fn check(&self, shared: &[Shared], intervals: &[Interval], at_s: f64) -> bool {
        let due: Vec<&Threshold> = self
            .thresholds
            .iter()
            .filter(|t| t.delay_abort_eval.as_secs_f64() <= at_s + 1e-9)
            .collect();
        if due.is_empty() {
            return false;
        }
        let workloads: Vec<WorkloadStats> = shared.iter().map(|s| lock(s).clone()).collect();
        let mut all = WorkloadStats::default();
        for w in &workloads {
            all.merge(w);
        }
        let memory = self
            .memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let inputs = Inputs {
            names: &self.names,
            workloads: &workloads,
            all: &all,
            idp_requests: self.idp.snapshot().values().sum(),
            memory: &memory,
            wall_s: self.start.elapsed().as_secs_f64(),
            intervals,
        };
        for t in due {
            let o = evaluate_one(t, &inputs);
            if !o.pass {
                let mut slot = self.aborted.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(Aborted {
                    metric: o.metric,
                    expr: o.expr,
                    observed: o.observed,
                    at_virtual_s: at_s,
                    window: o.window,
                });
                self.stop.store(true, Ordering::SeqCst);
                return true;
            }
        }
        false
    }
}
