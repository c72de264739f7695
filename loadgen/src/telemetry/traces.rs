//! Traces: the cache's `tracing` spans (`tokencache.acquire` and its children) exported as
//! OpenTelemetry spans through `tracing-opentelemetry`, for the acquisitions the run samples.
//!
//! One global subscriber is installed on first use and never replaced; what it exports to is
//! switched per run ([`Switch`]). Sampling is decided per acquisition by the drivers
//! ([`Sampler`], seeded) and carried to the spans by a task-local ([`sampled`]): spans of
//! unsampled acquisitions are never created.

use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};

use opentelemetry::trace::{SpanBuilder, TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

tokio::task_local! {
    static SAMPLED: bool;
}

/// Runs `f` with its acquisition's spans recorded (`on`) or not.
pub async fn sampled<F: Future>(on: bool, f: F) -> F::Output {
    if on {
        SAMPLED.scope(true, f).await
    } else {
        f.await
    }
}

fn is_sampled() -> bool {
    SAMPLED.try_with(|s| *s).unwrap_or(false)
}

/// The tracer the global layer builds spans with: the running export's, or one that
/// exports nowhere.
#[derive(Debug, Clone)]
struct Switch(Arc<RwLock<SdkTracer>>);

impl opentelemetry::trace::Tracer for Switch {
    type Span = opentelemetry_sdk::trace::Span;

    fn build_with_context(
        &self,
        builder: SpanBuilder,
        parent_cx: &opentelemetry::Context,
    ) -> Self::Span {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .build_with_context(builder, parent_cx)
    }
}

fn nowhere() -> SdkTracer {
    SdkTracerProvider::builder().build().tracer("loadgen")
}

static SWITCH: OnceLock<Result<Switch, String>> = OnceLock::new();

/// Installs the global subscriber once (the cache's spans, sampled ones only).
fn switch() -> Result<&'static Switch, String> {
    SWITCH
        .get_or_init(|| {
            let sw = Switch(Arc::new(RwLock::new(nowhere())));
            // Decided per span (a plain filter_fn would cache its first answer per callsite).
            let filter = tracing_subscriber::filter::DynFilterFn::new(|_, _| is_sampled())
                .with_callsite_filter(|meta| {
                    if meta.target().starts_with("tokencache") {
                        tracing::subscriber::Interest::sometimes()
                    } else {
                        tracing::subscriber::Interest::never()
                    }
                });
            let layer = tracing_opentelemetry::layer()
                .with_tracer(sw.clone())
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false)
                .with_filter(filter);
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::set_global_default(subscriber)
                .map_err(|e| format!("installing the tracing subscriber: {e}"))?;
            opentelemetry::global::set_text_map_propagator(
                opentelemetry_sdk::propagation::TraceContextPropagator::new(),
            );
            Ok(sw)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Makes `provider`'s tracer the one spans go to (until [`stop`]).
pub(super) fn start(provider: &SdkTracerProvider) -> anyhow::Result<()> {
    let sw = switch().map_err(anyhow::Error::msg)?;
    *sw.0.write().unwrap_or_else(|p| p.into_inner()) = provider.tracer("loadgen");
    Ok(())
}

/// Spans go nowhere again.
pub(super) fn stop() {
    if let Some(Ok(sw)) = SWITCH.get() {
        *sw.0.write().unwrap_or_else(|p| p.into_inner()) = nowhere();
    }
}

/// Decides, per acquisition, whether it is traced: a seeded stream (SplitMix64), separate
/// from the workload's own random choices so tracing never changes what a run does.
#[derive(Debug, Clone)]
pub struct Sampler {
    /// Sampled when the next value is below this; `u64::MAX` with `all`.
    threshold: u64,
    all: bool,
    state: u64,
}

impl Sampler {
    pub fn new(ratio: f64, seed: u64) -> Self {
        let ratio = ratio.clamp(0.0, 1.0);
        Sampler {
            threshold: (ratio * u64::MAX as f64) as u64,
            all: ratio >= 1.0,
            state: seed ^ 0x5EED_7A1C_E5A3_9C01,
        }
    }

    /// Never samples (traces off).
    pub fn off() -> Self {
        Sampler::new(0.0, 0)
    }

    pub fn sample(&mut self) -> bool {
        if self.all {
            return true;
        }
        if self.threshold == 0 {
            return false;
        }
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) < self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::Sampler;

    #[test]
    fn sampler_keeps_its_ratio_and_is_reproducible() {
        let count = |r: f64, seed| {
            let mut s = Sampler::new(r, seed);
            (0..100_000).filter(|_| s.sample()).count()
        };
        assert_eq!(count(0.0, 1), 0);
        assert_eq!(count(1.0, 1), 100_000);
        let c = count(0.01, 7);
        assert!((800..1200).contains(&c), "1% of 100000 sampled {c}");
        assert_eq!(count(0.25, 3), count(0.25, 3));
    }
}
