//! The live progress line (indicatif, on stderr, hidden when stderr is not a terminal):
//! elapsed wall and virtual time, acquisitions, rate, cache hit ratio, p99, drops.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::drivers::Live;
use super::stats::WorkloadStats;
use crate::scenario::model::Scenario;

#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    pub fn start(
        scn: &Scenario,
        live: Arc<Live>,
        shared: Vec<Arc<Mutex<WorkloadStats>>>,
        stop: Arc<AtomicBool>,
        start: Instant,
    ) -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(1000), target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:20}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        if bar.is_hidden() {
            return Progress { bar, task: None };
        }
        let (b, speed, total) = (bar.clone(), scn.speed, scn.duration.as_secs_f64());
        let task = tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let wall = start.elapsed().as_secs_f64();
                let n = live.acquisitions.load(Ordering::Relaxed);
                let hits = live.hits.load(Ordering::Relaxed);
                let p99 = shared
                    .iter()
                    .filter_map(|s| s.lock().ok().map(|s| s.hists.total.value_at_quantile(0.99)))
                    .max()
                    .unwrap_or(0);
                let virt = (wall * speed).min(total);
                b.set_position((virt / total * 1000.0) as u64);
                b.set_message(format!(
                    "{wall:.1}s wall, {virt:.0}/{total:.0}s virtual │ {n} acq │ {:.0}/s │ hit {:.2}% │ p99 {:.3} ms │ dropped {}",
                    n as f64 / wall.max(1e-9),
                    if n == 0 { 100.0 } else { hits as f64 * 100.0 / n as f64 },
                    p99 as f64 / 1e6,
                    live.dropped.load(Ordering::Relaxed),
                ));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        Progress {
            bar,
            task: Some(task),
        }
    }

    pub fn finish(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        self.bar.finish_and_clear();
    }
}
