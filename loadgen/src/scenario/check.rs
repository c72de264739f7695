//! Tree → model, part 1: the root, the clock, the authority, the cache and the apps.
//! Every problem is recorded in the [`Ctx`]; a model is returned only when there are none.

use std::time::Duration;

use mock_authority::{
    FaultAction, FaultMatch, FaultRule, FaultTrigger, Grant, LatencyModel, SigningAlg, TimeWindow,
};
use tokencache::config::{StoreKind, StoreSpec};
use tokencache::FailurePolicy;

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
        None => Some((Duration::from_secs(60), Duration::from_secs(10))),
        Some(n) => telemetry(cx, n),
    };
    let app_names: Vec<String> = apps.iter().flatten().map(|a| a.name.clone()).collect();
    let workloads = super::check_workload::workloads(cx, &f, &app_names);
    let wl_names: Vec<String> = workloads.iter().flatten().map(|w| w.name.clone()).collect();
    let thresholds = match f.get("thresholds") {
        None => Some(Vec::new()),
        Some(n) => super::check_workload::thresholds(cx, n, &wl_names),
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
        memory_sample_every: telemetry?.0,
        interval: telemetry?.1,
        thresholds: thresholds?,
    })
}

fn positive(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<Duration> {
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

fn authority(cx: &mut Ctx<'_>, n: &Node) -> Option<AuthoritySpec> {
    let f = cx.map(n, "authority", &["embedded", "url", "ca_file"])?;
    match (f.get("embedded"), f.get("url")) {
        (Some(_), Some(u)) => {
            cx.err(
                u.pos,
                "authority.url",
                "give either authority.embedded or authority.url, not both",
            );
            None
        }
        (_, Some(u)) => {
            let url = cx.string(u, "authority.url")?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                cx.err(
                    u.pos,
                    "authority.url",
                    format!("{url:?} is not an http(s) URL"),
                );
            }
            let ca_file = cx
                .opt(&f, "ca_file", "authority", Ctx::string)
                .map(Into::into);
            Some(AuthoritySpec::External {
                url: url.trim_end_matches('/').to_owned(),
                ca_file,
            })
        }
        (e, None) => {
            if let Some(ca) = f.get("ca_file") {
                cx.err(
                    ca.pos,
                    "authority.ca_file",
                    "ca_file goes with authority.url",
                );
            }
            match e {
                None => Some(AuthoritySpec::Embedded(EmbeddedSpec::default())),
                Some(e) => embedded(cx, e).map(AuthoritySpec::Embedded),
            }
        }
    }
}

fn embedded(cx: &mut Ctx<'_>, n: &Node) -> Option<EmbeddedSpec> {
    const P: &str = "authority.embedded";
    let f = cx.map(
        n,
        P,
        &[
            "token_lifetime",
            "ext_lifetime",
            "refresh_in",
            "signing",
            "latency",
            "faults",
        ],
    )?;
    let d = EmbeddedSpec::default();
    let token_lifetime = cx
        .opt(&f, "token_lifetime", P, positive)
        .unwrap_or(d.token_lifetime);
    let ext_lifetime = cx
        .opt(&f, "ext_lifetime", P, positive)
        .unwrap_or(token_lifetime);
    let refresh_in = cx.opt(&f, "refresh_in", P, positive);
    let signing = match cx
        .opt(&f, "signing", P, |cx, n, p| {
            cx.choice(n, p, &["rs256", "es256"])
        })
        .as_deref()
    {
        Some("rs256") => SigningAlg::RS256,
        _ => SigningAlg::ES256,
    };
    let latency = f
        .get("latency")
        .map_or(Some(LatencyModel::None), |n| latency(cx, n));
    let faults = f.get("faults").map_or(Some(Vec::new()), |n| faults(cx, n));
    Some(EmbeddedSpec {
        token_lifetime,
        ext_lifetime,
        refresh_in,
        signing,
        latency: latency?,
        faults: faults?,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn latency(cx: &mut Ctx<'_>, n: &Node) -> Option<LatencyModel> {
    const P: &str = "authority.embedded.latency";
    let f = cx.map(n, P, &["median", "p99", "fixed", "uniform"])?;
    if let Some(fixed) = cx.opt(&f, "fixed", P, Ctx::duration) {
        return Some(LatencyModel::Fixed { ms: ms(fixed) });
    }
    if let Some(u) = f.get("uniform") {
        let p = join(P, "uniform");
        let bounds = match &u.value {
            Value::Seq(items) if items.len() == 2 => {
                (cx.duration(&items[0], &p), cx.duration(&items[1], &p))
            }
            _ => {
                cx.err(u.pos, &p, "expected [min, max]");
                return None;
            }
        };
        let (Some(lo), Some(hi)) = bounds else {
            return None;
        };
        if hi < lo {
            cx.err(u.pos, &p, "max is below min");
        }
        return Some(LatencyModel::Uniform {
            min_ms: ms(lo),
            max_ms: ms(hi),
        });
    }
    let median = cx.req(&f, "median", P, positive)?;
    let p99 = cx.req(&f, "p99", P, positive)?;
    if p99 < median {
        cx.err(n.pos, P, "p99 is below the median");
        return None;
    }
    Some(LatencyModel::Lognormal {
        median_ms: ms(median),
        p99_ms: ms(p99),
    })
}

fn faults(cx: &mut Ctx<'_>, n: &Node) -> Option<Vec<FaultRule>> {
    let Value::Seq(items) = &n.value else {
        cx.err(
            n.pos,
            "authority.embedded.faults",
            format!("expected a list, found {}", n.kind()),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("authority.embedded.faults[{i}]");
        match fault(cx, item, &p) {
            Some(r) => out.push(r),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn fault(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<FaultRule> {
    let f = cx.map(
        n,
        p,
        &["name", "match", "window", "probability", "every", "respond"],
    )?;
    let matches = match f.get("match") {
        None => FaultMatch::default(),
        Some(m) => {
            let mp = join(p, "match");
            let mf = cx.map(m, &mp, &["grant_type", "tenant", "client_id", "scope"])?;
            let grant = cx.opt(&mf, "grant_type", &mp, |cx, n, p| {
                cx.choice(
                    n,
                    p,
                    &[
                        "client_credentials",
                        "authorization_code",
                        "refresh_token",
                        "on_behalf_of",
                    ],
                )
            });
            FaultMatch {
                tenant: cx.opt(&mf, "tenant", &mp, Ctx::string),
                client_id: cx.opt(&mf, "client_id", &mp, Ctx::string),
                grant: grant.map(|g| match g.as_str() {
                    "client_credentials" => Grant::ClientCredentials,
                    "authorization_code" => Grant::AuthorizationCode,
                    "refresh_token" => Grant::RefreshToken,
                    _ => Grant::OnBehalfOf,
                }),
                scope: cx.opt(&mf, "scope", &mp, Ctx::string),
            }
        }
    };
    let window = match f.get("window") {
        None => None,
        Some(w) => {
            let wp = join(p, "window");
            let wf = cx.map(w, &wp, &["from", "to"])?;
            let from = cx.req(&wf, "from", &wp, Ctx::duration)?;
            let to = cx.req(&wf, "to", &wp, Ctx::duration)?;
            if to <= from {
                cx.err(w.pos, &wp, "to must be after from");
            }
            Some(TimeWindow {
                from_s: from.as_secs_f64(),
                to_s: to.as_secs_f64(),
            })
        }
    };
    let probability = cx.opt(&f, "probability", p, Ctx::number);
    if let (Some(pr), Some(node)) = (probability, f.get("probability")) {
        if !(0.0..=1.0).contains(&pr) {
            cx.err(node.pos, &join(p, "probability"), "must be in [0, 1]");
        }
    }
    let every_nth = cx.opt(&f, "every", p, Ctx::uint).filter(|n| *n > 0);
    let respond = cx.req(&f, "respond", p, |cx, n, rp| respond(cx, n, rp))?;
    Some(FaultRule {
        name: cx.opt(&f, "name", p, Ctx::string),
        matches,
        when: FaultTrigger {
            probability,
            every_nth,
            window,
        },
        action: respond,
    })
}

fn respond(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<FaultAction> {
    if let Value::Str(_) = n.value {
        return match cx.choice(n, p, &["reset", "hang"])?.as_str() {
            "reset" => Some(FaultAction::Reset),
            _ => Some(FaultAction::Hang),
        };
    }
    let f = cx.map(n, p, &["status", "retry_after", "delay"])?;
    if let Some(d) = cx.opt(&f, "delay", p, Ctx::duration) {
        return Some(FaultAction::Delay { ms: ms(d) });
    }
    let status = cx.req(&f, "status", p, Ctx::uint)?;
    if !(100..=599).contains(&status) {
        cx.err(
            n.pos,
            &join(p, "status"),
            format!("{status} is not an HTTP status"),
        );
        return None;
    }
    let retry_after_s = cx
        .opt(&f, "retry_after", p, Ctx::duration)
        .map(|d| d.as_secs());
    Some(FaultAction::Status {
        status: status as u16,
        retry_after_s,
    })
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

/// (memory_sample_every, interval).
fn telemetry(cx: &mut Ctx<'_>, n: &Node) -> Option<(Duration, Duration)> {
    let f = cx.map(n, "telemetry", &["memory_sample_every", "interval"])?;
    let memory = cx.opt(&f, "memory_sample_every", "telemetry", positive);
    let interval = cx.opt(&f, "interval", "telemetry", positive);
    Some((
        memory.unwrap_or(Duration::from_secs(60)),
        interval.unwrap_or(Duration::from_secs(10)),
    ))
}
