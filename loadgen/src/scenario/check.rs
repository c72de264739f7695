//! Tree → model: the root, the clock, the cache, the apps and telemetry (the authority is in
//! `check_authority`, workloads and thresholds in `check_workload`).
//! Every problem is recorded in the [`Ctx`]; a model is returned only when there are none.

use std::time::Duration;

use tokencache::config::{StoreKind, StoreSpec};
use tokencache::FailurePolicy;

use super::check_authority::authority;
use super::ctx::{join, Ctx, Fields};
use super::model::*;
use super::tree::{Node, Value};

const ROOT_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "duration",
    "clock",
    "populate",
    "authority",
    "cache",
    "apps",
    "workload",
    "telemetry",
    "thresholds",
];

/// Checks a whole document.
pub fn scenario(cx: &mut Ctx<'_>, root: &Node) -> Option<Scenario> {
    let f = cx.map(root, "", ROOT_KEYS)?;
    let name = cx.req(&f, "name", "", |cx, n, p| {
        let s = cx.string(n, p)?;
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            cx.err(n.pos, p, format!("{s:?} must match [a-z0-9-]+"));
        }
        ok.then_some(s)
    });
    let description = cx
        .opt(&f, "description", "", Ctx::string)
        .unwrap_or_default();
    let seed = cx.opt(&f, "seed", "", Ctx::uint).unwrap_or(1);
    let duration = cx.req(&f, "duration", "", |cx, n, p| positive(cx, n, p));
    let speed = match f.get("clock") {
        None => Some(1.0),
        Some(n) => clock(cx, n),
    };
    let populate = cx.opt(&f, "populate", "", Ctx::boolean).unwrap_or(false);
    let authority = match f.get("authority") {
        None => Some(AuthoritySpec::Embedded(EmbeddedSpec::default())),
        Some(n) => authority(cx, n),
    };
    let cache = match f.get("cache") {
        None => Some(cache_spec(
            cx,
            &Node {
                pos: root.pos,
                value: Value::Map(Vec::new()),
            },
        )?),
        Some(n) => cache_spec(cx, n),
    };
    let apps = match f.get("apps") {
        None => Some(vec![App {
            name: "app".into(),
            client_id: "6f1c2a9e-8a42-4c55-9b1e-2d6b1b0c7a11".into(),
            secret: "mock-secret".into(),
        }]),
        Some(n) => apps(cx, n),
    };
    let telemetry = match f.get("telemetry") {
        None => Some((
            Duration::from_secs(60),
            Duration::from_secs(10),
            ExportSpec::default(),
        )),
        Some(n) => telemetry(cx, n),
    };
    let app_names: Vec<String> = apps.iter().flatten().map(|a| a.name.clone()).collect();
    let workloads = super::check_workload::workloads(cx, &f, &app_names);
    // Workload tags of thresholds are checked only against workloads that were valid.
    let wl_names: Option<Vec<String>> = workloads
        .as_ref()
        .map(|ws| ws.iter().map(|w| w.name.clone()).collect());
    let thresholds = match f.get("thresholds") {
        None => Some(Vec::new()),
        Some(n) => super::check_workload::thresholds(
            cx,
            n,
            wl_names.as_deref(),
            telemetry.as_ref().map(|t| t.1),
        ),
    };
    if let (Some(AuthoritySpec::External { .. }), Some(wls)) = (&authority, &workloads) {
        for w in wls {
            if matches!(
                w.flow,
                FlowSpec::OnBehalfOf { .. } | FlowSpec::WebApp { .. }
            ) {
                cx.err(root.pos, "workload", format!("workload {:?}: {} needs the embedded authority (it mints assertions and signs users in)", w.name, w.flow.name()));
            }
        }
    }
    Some(Scenario {
        name: name?,
        description,
        file: cx.file.to_owned(),
        seed,
        duration: duration?,
        speed: speed?,
        populate,
        authority: authority?,
        cache: cache?,
        apps: apps?,
        workloads: workloads?,
        memory_sample_every: telemetry.as_ref()?.0,
        interval: telemetry.as_ref()?.1,
        export: telemetry?.2,
        thresholds: thresholds?,
        instance: None,
    })
}

pub(super) fn positive(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<Duration> {
    let d = cx.duration(n, p)?;
    if d.is_zero() {
        cx.err(n.pos, p, "must be greater than zero");
        return None;
    }
    Some(d)
}

fn clock(cx: &mut Ctx<'_>, n: &Node) -> Option<f64> {
    let f = cx.map(n, "clock", &["speed"])?;
    let speed = cx.opt(&f, "speed", "clock", Ctx::number).unwrap_or(1.0);
    if !(speed > 0.0 && speed <= 1e6) {
        cx.err(
            f.get("speed").map_or(n.pos, |s| s.pos),
            "clock.speed",
            "must be in (0, 1000000]",
        );
        return None;
    }
    Some(speed)
}

fn cache_spec(cx: &mut Ctx<'_>, n: &Node) -> Option<CacheSpec> {
    let f = cx.map(
        n,
        "cache",
        &["l1", "l2", "synchronization", "single_flight"],
    )?;
    let l1_max_bytes = match f.get("l1") {
        None => Some(Some(500 * 1024 * 1024)),
        Some(l1) if l1.value == Value::Str("disabled".into()) => Some(None),
        Some(l1) => cx
            .map(l1, "cache.l1", &["max_bytes"])
            .and_then(|lf| Some(Some(cx.req(&lf, "max_bytes", "cache.l1", Ctx::size)?))),
    };
    let mut spec = CacheSpec {
        l1_max_bytes: l1_max_bytes.flatten(),
        store: StoreSpec::memory(),
        namespace: "tokenscope".into(),
        encrypt_key_env: None,
        sliding_expiration: None,
        async_write: false,
        timeout: Duration::from_millis(100),
        on_failure: FailurePolicy::RetryThenMiss,
        synchronization: cx
            .opt(&f, "synchronization", "cache", Ctx::boolean)
            .unwrap_or(true),
        single_flight: cx
            .opt(&f, "single_flight", "cache", Ctx::boolean)
            .unwrap_or(true),
    };
    if let Some(l2) = f.get("l2") {
        l2_spec(cx, l2, &mut spec)?;
    }
    l1_max_bytes.map(|_| spec)
}

fn l2_spec(cx: &mut Ctx<'_>, n: &Node, spec: &mut CacheSpec) -> Option<()> {
    const P: &str = "cache.l2";
    let keys = [
        "store",
        "url",
        "urls",
        "namespace",
        "encrypt",
        "sliding_expiration",
        "async_write",
        "timeout",
        "on_failure",
    ];
    let f: Fields<'_> = cx.map(n, P, &keys)?;
    let kind = cx
        .opt(&f, "store", P, |cx, n, p| {
            cx.choice(n, p, &StoreKind::NAMES)
        })
        .map_or(StoreKind::Memory, |s| {
            s.parse().unwrap_or(StoreKind::Memory)
        });
    let mut urls: Vec<String> = cx.opt(&f, "url", P, Ctx::string).into_iter().collect();
    if let Some(list) = f.get("urls") {
        match &list.value {
            Value::Seq(items) => {
                urls.extend(items.iter().filter_map(|u| cx.string(u, "cache.l2.urls")))
            }
            _ => cx.err(list.pos, "cache.l2.urls", "expected a list of URLs"),
        }
    }
    spec.store = StoreSpec { kind, urls };
    if let Err(e) = spec.store.validate(P) {
        cx.err(
            f.get("url").or(f.get("urls")).map_or(n.pos, |u| u.pos),
            &e.field,
            e.message,
        );
    }
    if let Some(ns) = cx.opt(&f, "namespace", P, Ctx::string) {
        spec.namespace = ns;
    }
    if let Some(e) = f.get("encrypt") {
        spec.encrypt_key_env = match e.value {
            Value::Bool(false) => None,
            _ => {
                let ef = cx.map(e, "cache.l2.encrypt", &["key_env"])?;
                Some(cx.req(&ef, "key_env", "cache.l2.encrypt", Ctx::string)?)
            }
        };
    }
    spec.sliding_expiration = cx.opt(&f, "sliding_expiration", P, positive);
    spec.async_write = cx.opt(&f, "async_write", P, Ctx::boolean).unwrap_or(false);
    if let Some(t) = cx.opt(&f, "timeout", P, positive) {
        spec.timeout = t;
    }
    if let Some(p) = cx.opt(&f, "on_failure", P, |cx, n, p| {
        cx.choice(n, p, &FailurePolicy::NAMES)
    }) {
        spec.on_failure = FailurePolicy::parse(&p).unwrap_or_default();
    }
    Some(())
}

fn apps(cx: &mut Ctx<'_>, n: &Node) -> Option<Vec<App>> {
    let Value::Seq(items) = &n.value else {
        cx.err(
            n.pos,
            "apps",
            format!("expected a list, found {}", n.kind()),
        );
        return None;
    };
    if items.is_empty() {
        cx.err(n.pos, "apps", "needs at least one app");
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("apps[{i}]");
        let Some(f) = cx.map(item, &p, &["name", "client_id", "secret"]) else {
            continue;
        };
        let name = cx.req(&f, "name", &p, Ctx::string);
        let client_id = cx.req(&f, "client_id", &p, Ctx::string);
        let secret = cx
            .opt(&f, "secret", &p, Ctx::string)
            .unwrap_or_else(|| "mock-secret".into());
        if let (Some(name), Some(client_id)) = (name, client_id) {
            if out.iter().any(|a: &App| a.name == name) {
                cx.err(
                    item.pos,
                    &join(&p, "name"),
                    format!("duplicate app name {name:?}"),
                );
            }
            out.push(App {
                name,
                client_id,
                secret,
            });
        }
    }
    (out.len() == items.len() && !out.is_empty()).then_some(out)
}

/// (memory_sample_every, interval, export).
fn telemetry(cx: &mut Ctx<'_>, n: &Node) -> Option<(Duration, Duration, ExportSpec)> {
    let f = cx.map(
        n,
        "telemetry",
        &[
            "memory_sample_every",
            "interval",
            "traces",
            "metrics",
            "prometheus",
        ],
    )?;
    let memory = cx.opt(&f, "memory_sample_every", "telemetry", positive);
    let interval = cx.opt(&f, "interval", "telemetry", positive);
    let before = cx.errors.len();
    let traces = cx.opt(&f, "traces", "telemetry", traces);
    let metrics = cx.opt(&f, "metrics", "telemetry", metrics);
    let prometheus = cx.opt(&f, "prometheus", "telemetry", prometheus);
    (cx.errors.len() == before).then_some(())?;
    Some((
        memory.unwrap_or(Duration::from_secs(60)),
        interval.unwrap_or(Duration::from_secs(10)),
        ExportSpec {
            traces,
            metrics,
            prometheus,
        },
    ))
}

fn endpoint(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<String> {
    let s = cx.string(n, p)?;
    let ok = (s.starts_with("http://") || s.starts_with("https://"))
        && s.len() > "https://".len()
        && !s.contains(char::is_whitespace);
    if !ok {
        cx.err(
            n.pos,
            p,
            format!("{s:?} is not an http:// or https:// URL (e.g. http://localhost:4317)"),
        );
        return None;
    }
    Some(s)
}

fn protocol(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<OtlpProtocol> {
    cx.choice(n, p, &OtlpProtocol::NAMES)
        .and_then(|s| OtlpProtocol::parse(&s))
}

fn traces(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<TracesSpec> {
    let f = cx.map(n, p, &["endpoint", "protocol", "sample_ratio"])?;
    let endpoint = cx.opt(&f, "endpoint", p, endpoint);
    let protocol = cx.opt(&f, "protocol", p, protocol);
    let sample_ratio = cx.opt(&f, "sample_ratio", p, |cx, n, p| {
        let r = cx.number(n, p)?;
        if !(0.0..=1.0).contains(&r) {
            cx.err(n.pos, p, format!("{r} must be between 0 and 1"));
            return None;
        }
        Some(r)
    });
    Some(TracesSpec {
        endpoint,
        protocol,
        sample_ratio,
    })
}

fn metrics(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<MetricsSpec> {
    let f = cx.map(n, p, &["endpoint", "protocol", "interval"])?;
    Some(MetricsSpec {
        endpoint: cx.opt(&f, "endpoint", p, endpoint),
        protocol: cx.opt(&f, "protocol", p, protocol),
        interval: cx.opt(&f, "interval", p, positive),
    })
}

fn prometheus(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<PrometheusSpec> {
    let f = cx.map(n, p, &["listen", "linger"])?;
    let listen = cx.req(&f, "listen", p, |cx, n, p| {
        let s = cx.string(n, p)?;
        match crate::telemetry::parse_listen(&s) {
            Ok(a) => Some(a),
            Err(e) => {
                cx.err(n.pos, p, e);
                None
            }
        }
    });
    let linger = cx.opt(&f, "linger", p, Ctx::duration);
    Some(PrometheusSpec {
        listen: listen?,
        linger: linger.unwrap_or(Duration::ZERO),
    })
}
