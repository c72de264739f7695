//! Resolving what to export: the standard `OTEL_*` variables win over the scenario's
//! `telemetry:` keys; the OTLP exporters built from the result.
//!
//! Variables read: `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL`,
//! `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` (`none` turns a signal off),
//! `OTEL_TRACES_SAMPLER_ARG` (the sample ratio), `OTEL_METRIC_EXPORT_INTERVAL` (ms),
//! `OTEL_SERVICE_NAME`; `OTEL_RESOURCE_ATTRIBUTES` is read by the SDK's resource detector.

use std::net::SocketAddr;
use std::time::Duration;

use crate::scenario::model::{ExportSpec, OtlpProtocol, PrometheusSpec};

/// Where one signal goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The full URL the exporter is given (HTTP: with `/v1/traces` or `/v1/metrics`).
    pub url: String,
    pub protocol: OtlpProtocol,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraceSettings {
    pub endpoint: Endpoint,
    pub sample_ratio: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricSettings {
    pub endpoint: Endpoint,
    pub interval: Duration,
}

/// What a run exports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub traces: Option<TraceSettings>,
    pub metrics: Option<MetricSettings>,
    pub prometheus: Option<PrometheusSpec>,
    /// `OTEL_SERVICE_NAME` is not set: service.name is "loadgen".
    pub service_name_default: bool,
}

impl Settings {
    pub fn is_off(&self) -> bool {
        self.traces.is_none() && self.metrics.is_none() && self.prometheus.is_none()
    }
}

/// `HOST:PORT` (IPv6 in brackets), or `:PORT` for every interface.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    };
    full.parse().map_err(|_| {
        format!("{s:?} is not a listen address; expected HOST:PORT, e.g. 127.0.0.1:9464 or :9464")
    })
}

fn protocol_of(var: &str, v: &str) -> Result<OtlpProtocol, String> {
    OtlpProtocol::parse(v).ok_or_else(|| {
        format!(
            "environment variable {var}={v:?}: expected one of {}",
            OtlpProtocol::NAMES.join(", ")
        )
    })
}

fn url_of(var: &str, v: &str) -> Result<String, String> {
    if (v.starts_with("http://") || v.starts_with("https://")) && !v.contains(char::is_whitespace) {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "environment variable {var}={v:?} is not an http:// or https:// URL"
        ))
    }
}

/// One signal's endpoint: `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` (used as is), else
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, else the scenario's (both bases: HTTP appends `/v1/<signal>`).
fn endpoint(
    env: &dyn Fn(&str) -> Option<String>,
    signal: &str,
    scenario_url: Option<&str>,
    scenario_protocol: Option<OtlpProtocol>,
) -> Result<Option<Endpoint>, String> {
    let upper = signal.to_ascii_uppercase();
    let pvar = format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL");
    let protocol = match (env(&pvar), env("OTEL_EXPORTER_OTLP_PROTOCOL")) {
        (Some(v), _) => protocol_of(&pvar, &v)?,
        (None, Some(v)) => protocol_of("OTEL_EXPORTER_OTLP_PROTOCOL", &v)?,
        (None, None) => scenario_protocol.unwrap_or(OtlpProtocol::Grpc),
    };
    let evar = format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT");
    let (base, exact) = match (env(&evar), env("OTEL_EXPORTER_OTLP_ENDPOINT")) {
        (Some(v), _) => (url_of(&evar, &v)?, true),
        (None, Some(v)) => (url_of("OTEL_EXPORTER_OTLP_ENDPOINT", &v)?, false),
        (None, None) => match scenario_url {
            Some(u) => (u.to_owned(), false),
            None => return Ok(None),
        },
    };
    let url = if exact || protocol == OtlpProtocol::Grpc {
        base
    } else {
        format!("{}/v1/{signal}", base.trim_end_matches('/'))
    };
    Ok(Some(Endpoint { url, protocol }))
}

/// Resolves the export settings; `env` reads a variable (`std::env::var` in the binary).
/// A signal is on when it has an endpoint (environment or scenario) and its
/// `OTEL_<SIGNAL>_EXPORTER` is not `none`.
pub fn settings(
    spec: &ExportSpec,
    env: &dyn Fn(&str) -> Option<String>,
    prometheus_listen: Option<SocketAddr>,
) -> Result<Settings, String> {
    let off = |var: &str| env(var).is_some_and(|v| v.trim() == "none");
    let traces = if off("OTEL_TRACES_EXPORTER") {
        None
    } else {
        let t = spec.traces.as_ref();
        match endpoint(
            env,
            "traces",
            t.and_then(|t| t.endpoint.as_deref()),
            t.and_then(|t| t.protocol),
        )? {
            None => None,
            Some(endpoint) => {
                let ratio = match env("OTEL_TRACES_SAMPLER_ARG") {
                    Some(v) => v
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| {
                            format!("environment variable OTEL_TRACES_SAMPLER_ARG={v:?}: expected a ratio between 0 and 1")
                        })?,
                    None => t.and_then(|t| t.sample_ratio).unwrap_or(1.0),
                };
                Some(TraceSettings {
                    endpoint,
                    sample_ratio: ratio,
                })
            }
        }
    };
    let metrics = if off("OTEL_METRICS_EXPORTER") {
        None
    } else {
        let m = spec.metrics.as_ref();
        match endpoint(
            env,
            "metrics",
            m.and_then(|m| m.endpoint.as_deref()),
            m.and_then(|m| m.protocol),
        )? {
            None => None,
            Some(endpoint) => {
                let interval = match env("OTEL_METRIC_EXPORT_INTERVAL") {
                    Some(v) => v
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|ms| *ms > 0)
                        .map(Duration::from_millis)
                        .ok_or_else(|| {
                            format!("environment variable OTEL_METRIC_EXPORT_INTERVAL={v:?}: expected milliseconds (> 0)")
                        })?,
                    None => m.and_then(|m| m.interval).unwrap_or(Duration::from_secs(10)),
                };
                Some(MetricSettings { endpoint, interval })
            }
        }
    };
    let prometheus = match (prometheus_listen, &spec.prometheus) {
        (Some(listen), p) => Some(PrometheusSpec {
            listen,
            linger: p.as_ref().map_or(Duration::ZERO, |p| p.linger),
        }),
        (None, p) => p.clone(),
    };
    Ok(Settings {
        traces,
        metrics,
        prometheus,
        service_name_default: env("OTEL_SERVICE_NAME").is_none_or(|v| v.trim().is_empty()),
    })
}

/// The OTLP metric exporter for `m` (cumulative temporality, as Prometheus expects).
pub(super) fn metric_exporter(
    m: &MetricSettings,
) -> anyhow::Result<opentelemetry_otlp::MetricExporter> {
    use opentelemetry_otlp::WithExportConfig as _;
    let b = opentelemetry_otlp::MetricExporter::builder();
    let r = match m.endpoint.protocol {
        OtlpProtocol::Grpc => b
            .with_tonic()
            .with_endpoint(m.endpoint.url.clone())
            .with_timeout(Duration::from_secs(5))
            .build(),
        OtlpProtocol::HttpProtobuf => b
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(m.endpoint.url.clone())
            .with_timeout(Duration::from_secs(5))
            .build(),
    };
    r.map_err(|e| anyhow::anyhow!("OTLP metrics exporter for {}: {e}", m.endpoint.url))
}

/// The OTLP span exporter for `t`.
pub(super) fn span_exporter(t: &TraceSettings) -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    use opentelemetry_otlp::WithExportConfig as _;
    let b = opentelemetry_otlp::SpanExporter::builder();
    let r = match t.endpoint.protocol {
        OtlpProtocol::Grpc => b
            .with_tonic()
            .with_endpoint(t.endpoint.url.clone())
            .with_timeout(Duration::from_secs(5))
            .build(),
        OtlpProtocol::HttpProtobuf => b
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(t.endpoint.url.clone())
            .with_timeout(Duration::from_secs(5))
            .build(),
    };
    r.map_err(|e| anyhow::anyhow!("OTLP span exporter for {}: {e}", t.endpoint.url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{MetricsSpec, TracesSpec};

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn spec() -> ExportSpec {
        ExportSpec {
            traces: Some(TracesSpec {
                endpoint: Some("http://scenario:4317".into()),
                protocol: None,
                sample_ratio: Some(0.5),
            }),
            metrics: Some(MetricsSpec {
                endpoint: Some("http://scenario:4318".into()),
                protocol: Some(OtlpProtocol::HttpProtobuf),
                interval: Some(Duration::from_secs(5)),
            }),
            prometheus: None,
        }
    }

    #[test]
    fn scenario_keys_apply_without_environment() {
        let s = settings(&spec(), &env(&[]), None).unwrap();
        let t = s.traces.unwrap();
        assert_eq!(t.endpoint.url, "http://scenario:4317");
        assert_eq!(t.endpoint.protocol, OtlpProtocol::Grpc);
        assert_eq!(t.sample_ratio, 0.5);
        let m = s.metrics.unwrap();
        assert_eq!(m.endpoint.url, "http://scenario:4318/v1/metrics");
        assert_eq!(m.interval, Duration::from_secs(5));
        assert!(s.service_name_default);
        assert!(settings(&ExportSpec::default(), &env(&[]), None)
            .unwrap()
            .is_off());
    }

    #[test]
    fn otel_variables_win_over_scenario_keys() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/custom"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.01"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "250"),
            ("OTEL_SERVICE_NAME", "bench"),
        ];
        let s = settings(&spec(), &env(&vars), None).unwrap();
        let t = s.traces.unwrap();
        assert_eq!(t.endpoint.url, "http://collector:4318/v1/traces");
        assert_eq!(t.endpoint.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(t.sample_ratio, 0.01);
        let m = s.metrics.unwrap();
        assert_eq!(
            m.endpoint.url, "http://m:9/custom",
            "signal endpoints are used as is"
        );
        assert_eq!(m.interval, Duration::from_millis(250));
        assert!(!s.service_name_default);
        // The environment alone turns export on; `none` turns a signal off.
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ];
        let s = settings(&ExportSpec::default(), &env(&vars), None).unwrap();
        assert_eq!(s.traces.unwrap().endpoint.url, "http://collector:4317");
        assert!(s.metrics.is_none());
    }

    #[test]
    fn bad_variables_are_named() {
        for (vars, needle) in [
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
                "OTEL_EXPORTER_OTLP_ENDPOINT=\"collector:4317\" is not an http",
            ),
            (
                vec![("OTEL_TRACES_SAMPLER_ARG", "2")],
                "OTEL_TRACES_SAMPLER_ARG=\"2\"",
            ),
            (
                vec![("OTEL_METRIC_EXPORT_INTERVAL", "soon")],
                "OTEL_METRIC_EXPORT_INTERVAL=\"soon\"",
            ),
        ] {
            let e = settings(&spec(), &env(&vars), None).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn the_flag_wins_over_the_listen_key_and_keeps_its_linger() {
        let spec = ExportSpec {
            prometheus: Some(PrometheusSpec {
                listen: "127.0.0.1:1".parse().unwrap(),
                linger: Duration::from_secs(30),
            }),
            ..ExportSpec::default()
        };
        let flag = parse_listen(":9464").unwrap();
        let p = settings(&spec, &env(&[]), Some(flag))
            .unwrap()
            .prometheus
            .unwrap();
        assert_eq!(p.listen.to_string(), "0.0.0.0:9464");
        assert_eq!(p.linger, Duration::from_secs(30));
        assert!(parse_listen("localhost").is_err());
    }
}
