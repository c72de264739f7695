//! Tree → model, part 2: workloads (flow, population, pick, arrival) and thresholds.

use std::time::Duration;

use super::ctx::{join, Ctx, Fields};
use super::model::*;
use super::tree::{Node, Pos, Value};
use crate::thresholds::{parse_expr, parse_metric, Threshold};

const WORKLOAD_KEYS: &[&str] = &[
    "name",
    "flow",
    "app",
    "tenants",
    "users",
    "resources",
    "assertions",
    "session",
    "arrival",
    "concurrency",
    "max_in_flight",
];
const FLOWS: &[&str] = &["client_credentials", "on_behalf_of", "web_app"];

pub fn workloads(cx: &mut Ctx<'_>, root: &Fields<'_>, apps: &[String]) -> Option<Vec<Workload>> {
    let n = cx.required(root, "workload", "")?;
    let Value::Seq(items) = &n.value else {
        cx.err(
            n.pos,
            "workload",
            format!("expected a list of workloads, found {}", n.kind()),
        );
        return None;
    };
    if items.is_empty() {
        cx.err(n.pos, "workload", "needs at least one workload");
        return None;
    }
    let mut out: Vec<Workload> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("workload[{i}]");
        match workload(cx, item, &p, apps) {
            Some(w) => {
                if out.iter().any(|o| o.name == w.name) {
                    cx.err(
                        item.pos,
                        &join(&p, "name"),
                        format!("duplicate workload name {:?}", w.name),
                    );
                }
                out.push(w);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn workload(cx: &mut Ctx<'_>, n: &Node, p: &str, apps: &[String]) -> Option<Workload> {
    let f = cx.map(n, p, WORKLOAD_KEYS)?;
    let name = cx.req(&f, "name", p, Ctx::string);
    let flow = cx.req(&f, "flow", p, |cx, n, fp| cx.choice(n, fp, FLOWS));
    let app = match f.get("app") {
        None if apps.len() <= 1 => Some(0),
        None => {
            cx.err(
                n.pos,
                p,
                format!(
                    "missing required key \"app\" (the scenario has {} apps)",
                    apps.len()
                ),
            );
            None
        }
        Some(a) => {
            let ap = join(p, "app");
            let s = cx.string(a, &ap)?;
            let names: Vec<&str> = apps.iter().map(String::as_str).collect();
            let idx = apps.iter().position(|x| *x == s);
            if idx.is_none() && !apps.is_empty() {
                let hint = tokencache::config::closest(&s, &names)
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                cx.err(
                    a.pos,
                    &ap,
                    format!("no app named {s:?}{hint}; apps: {}", names.join(", ")),
                );
            }
            idx
        }
    };
    // web_app sessions may name their APIs under session.apis instead.
    let session_apis = f.get("session").and_then(|s| match &s.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.name == "apis")
            .map(|(_, v)| v),
        _ => None,
    });
    let resources = match (f.get("resources"), session_apis) {
        (Some(_), Some(a)) => {
            cx.err(
                a.pos,
                &join(p, "session.apis"),
                "give either resources or session.apis, not both",
            );
            None
        }
        (None, Some(a)) => resources(cx, a, &join(p, "session.apis")),
        _ => cx.req(&f, "resources", p, |cx, n, rp| resources(cx, n, rp)),
    };
    let arrival = arrival(cx, &f, n, p);
    let max_in_flight = cx
        .opt(&f, "max_in_flight", p, Ctx::uint)
        .unwrap_or(10_000)
        .clamp(1, 1_000_000) as u32;
    let flow = match flow.as_deref() {
        Some("client_credentials") => {
            reject(
                cx,
                &f,
                p,
                &["users", "assertions", "session"],
                "client_credentials",
            );
            let (count, pick) = population(cx, &f, "tenants", p)?;
            Some(FlowSpec::ClientCredentials {
                tenants: count,
                pick,
                resources: resources?,
            })
        }
        Some("on_behalf_of") => {
            reject(cx, &f, p, &["tenants", "session"], "on_behalf_of");
            let (users, tenants, pick) = users(cx, &f, p)?;
            let assertion_lifetime = match f.get("assertions") {
                None => Some(Duration::from_secs(3600)),
                Some(a) => {
                    let ap = join(p, "assertions");
                    cx.map(a, &ap, &["lifetime"]).map(|af| {
                        cx.opt(&af, "lifetime", &ap, Ctx::duration)
                            .unwrap_or(Duration::from_secs(3600))
                    })
                }
            };
            Some(FlowSpec::OnBehalfOf {
                users,
                tenants,
                pick,
                assertion_lifetime: assertion_lifetime?,
                resources: resources?,
            })
        }
        Some(_) => {
            reject(cx, &f, p, &["tenants", "assertions"], "web_app");
            let session = f
                .get("session")
                .map(|s| session(cx, s, &join(p, "session")));
            let (users, tenants, pick) = users(cx, &f, p)?;
            Some(FlowSpec::WebApp {
                users,
                tenants,
                pick,
                resources: resources?,
                session: session.map_or(Some(None), |s| s.map(Some))?,
            })
        }
        None => None,
    };
    Some(Workload {
        name: name?,
        app: app?,
        flow: flow?,
        arrival: arrival?,
        max_in_flight,
    })
}

fn session(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<Session> {
    let f = cx.map(n, p, &["requests", "think_time", "sign_out", "apis"])?;
    let requests_mean = match f.get("requests") {
        None => Some(1.0),
        Some(
            r @ Node {
                value: Value::Map(_),
                ..
            },
        ) => {
            let rp = join(p, "requests");
            cx.map(r, &rp, &["mean"])
                .and_then(|rf| cx.req(&rf, "mean", &rp, Ctx::number))
        }
        Some(r) => cx.number(r, &join(p, "requests")),
    };
    if let (Some(m), Some(node)) = (requests_mean, f.get("requests")) {
        if !(1.0..=1e6).contains(&m) {
            cx.err(
                node.pos,
                &join(p, "requests"),
                "the mean must be in 1..=1000000",
            );
            return None;
        }
    }
    let think_time = cx
        .opt(&f, "think_time", p, Ctx::duration)
        .unwrap_or_default();
    let sign_out = cx.opt(&f, "sign_out", p, Ctx::boolean).unwrap_or(true);
    Some(Session {
        requests_mean: requests_mean?,
        think_time,
        sign_out,
    })
}

fn reject(cx: &mut Ctx<'_>, f: &Fields<'_>, p: &str, keys: &[&str], flow: &str) {
    for k in keys {
        if let Some(n) = f.get(k) {
            cx.err(
                n.pos,
                &join(p, k),
                format!("{k:?} does not apply to flow {flow}"),
            );
        }
    }
}

fn resources(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<Vec<String>> {
    let Value::Seq(items) = &n.value else {
        cx.err(
            n.pos,
            p,
            format!("expected a list of scopes, found {}", n.kind()),
        );
        return None;
    };
    if items.is_empty() {
        cx.err(n.pos, p, "needs at least one resource");
    }
    let out: Vec<String> = items.iter().filter_map(|i| cx.string(i, p)).collect();
    (out.len() == items.len() && !out.is_empty()).then_some(out)
}

fn pick(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<Pick> {
    match &n.value {
        Value::Str(z) if z.starts_with("zipf") => {
            cx.err(
                n.pos,
                p,
                format!("{z:?}: Zipf takes an exponent: pick: {{ zipf: 1.1 }}"),
            );
            None
        }
        Value::Str(_) => match cx.choice(n, p, &["uniform", "round_robin"])?.as_str() {
            "uniform" => Some(Pick::Uniform),
            _ => Some(Pick::RoundRobin),
        },
        _ => {
            let f = cx.map(n, p, &["zipf"])?;
            let s = cx.req(&f, "zipf", p, Ctx::number)?;
            if !(s > 0.0 && s.is_finite()) {
                cx.err(n.pos, &join(p, "zipf"), "the exponent must be > 0");
                return None;
            }
            Some(Pick::Zipf(s))
        }
    }
}

fn count(cx: &mut Ctx<'_>, n: &Node, p: &str) -> Option<u64> {
    let c = cx.uint(n, p)?;
    if c == 0 || c > 100_000_000 {
        cx.err(n.pos, p, "must be in 1..=100000000");
        return None;
    }
    Some(c)
}

fn population(cx: &mut Ctx<'_>, f: &Fields<'_>, key: &str, p: &str) -> Option<(u64, Pick)> {
    let tp = join(p, key);
    let n = cx.required(f, key, p)?;
    let tf = cx.map(n, &tp, &["count", "pick"])?;
    let c = cx.req(&tf, "count", &tp, count);
    let pk = tf
        .get("pick")
        .map_or(Some(Pick::Uniform), |n| pick(cx, n, &join(&tp, "pick")));
    Some((c?, pk?))
}

fn users(cx: &mut Ctx<'_>, f: &Fields<'_>, p: &str) -> Option<(u64, u64, Pick)> {
    let up = join(p, "users");
    let n = cx.required(f, "users", p)?;
    let uf = cx.map(n, &up, &["count", "tenants", "pick"])?;
    let c = cx.req(&uf, "count", &up, count);
    let t = cx.opt(&uf, "tenants", &up, count).unwrap_or(1);
    let pk = uf
        .get("pick")
        .map_or(Some(Pick::Uniform), |n| pick(cx, n, &join(&up, "pick")));
    Some((c?, t, pk?))
}

fn arrival(cx: &mut Ctx<'_>, f: &Fields<'_>, n: &Node, p: &str) -> Option<Arrival> {
    match (f.get("arrival"), f.get("concurrency")) {
        (Some(_), Some(c)) => {
            cx.err(
                c.pos,
                &join(p, "concurrency"),
                "give either arrival (open model) or concurrency (closed model), not both",
            );
            None
        }
        (None, None) => {
            cx.err(n.pos, p, "missing arrival (open model: { rate: 200/s } or { stages: [...] }) or concurrency (closed model)");
            None
        }
        (None, Some(c)) => {
            let v = count(cx, c, &join(p, "concurrency"))?;
            Some(Arrival::Concurrency(v.min(100_000) as u32))
        }
        (Some(a), None) => {
            let ap = join(p, "arrival");
            let af = cx.map(a, &ap, &["rate", "stages"])?;
            if let Some(r) = cx.opt(&af, "rate", &ap, Ctx::rate) {
                if r <= 0.0 {
                    cx.err(a.pos, &join(&ap, "rate"), "must be greater than zero");
                    return None;
                }
                return Some(Arrival::Rate(r));
            }
            let Some(s) = af.get("stages") else {
                if !af.has("rate") {
                    cx.err(a.pos, &ap, "needs rate or stages");
                }
                return None;
            };
            let sp = join(&ap, "stages");
            let Value::Seq(items) = &s.value else {
                cx.err(s.pos, &sp, "expected a list of { duration, target }");
                return None;
            };
            let mut stages = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ip = format!("{sp}[{i}]");
                let Some(sf) = cx.map(item, &ip, &["duration", "target"]) else {
                    continue;
                };
                let d = cx.req(&sf, "duration", &ip, Ctx::duration);
                let t = cx.req(&sf, "target", &ip, Ctx::rate);
                if let (Some(duration), Some(target)) = (d, t) {
                    stages.push(Stage { duration, target });
                }
            }
            (stages.len() == items.len() && !stages.is_empty()).then_some(Arrival::Stages(stages))
        }
    }
}

/// One list item of a threshold: `"p(99) < 5ms"` or k6's object form
/// `{ threshold: "p(99) < 5ms", abortOnFail: true, delayAbortEval: 10s }`.
fn threshold_item(cx: &mut Ctx<'_>, e: &Node, ep: &str) -> Option<(String, Pos, bool, Duration)> {
    if let Value::Map(_) = &e.value {
        let f = cx.map(e, ep, &["threshold", "abortOnFail", "delayAbortEval"])?;
        let tn = cx.required(&f, "threshold", ep);
        let text = tn.and_then(|n| cx.string(n, &format!("{ep}.threshold")));
        let abort = cx.opt(&f, "abortOnFail", ep, Ctx::boolean);
        let delay = cx.opt(&f, "delayAbortEval", ep, Ctx::duration);
        if delay.is_some() && abort != Some(true) {
            let pos = f.get("delayAbortEval").map_or(e.pos, |n| n.pos);
            cx.err(
                pos,
                &format!("{ep}.delayAbortEval"),
                "delayAbortEval only applies with abortOnFail: true",
            );
            return None;
        }
        return Some((
            text?,
            tn?.pos,
            abort.unwrap_or(false),
            delay.unwrap_or_default(),
        ));
    }
    let text = cx.string(e, ep)?;
    Some((text, e.pos, false, Duration::ZERO))
}

/// `thresholds:`; window tags must be whole multiples of `interval` (they are made of
/// interval histograms).
pub fn thresholds(
    cx: &mut Ctx<'_>,
    n: &Node,
    workloads: Option<&[String]>,
    interval: Option<Duration>,
) -> Option<Vec<Threshold>> {
    let Value::Map(entries) = &n.value else {
        cx.err(
            n.pos,
            "thresholds",
            format!(
                "expected a mapping of metric: [expressions], found {}",
                n.kind()
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (k, v) in entries {
        let p = format!("thresholds.{:?}", k.name);
        let (def, tags) = match parse_metric(&k.name) {
            Ok(m) => m,
            Err(e) => {
                cx.err(k.pos, &p, e);
                ok = false;
                continue;
            }
        };
        if let Some(w) = &tags.workload {
            if let Some(workloads) = workloads.filter(|ws| !ws.contains(w)) {
                let names: Vec<&str> = workloads.iter().map(String::as_str).collect();
                let hint = tokencache::config::closest(w, &names)
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                cx.err(k.pos, &p, format!("no workload named {w:?}{hint}"));
                ok = false;
            }
        }
        if let (Some(w), Some(i)) = (tags.window, interval) {
            if w.as_millis() % i.as_millis().max(1) != 0 {
                cx.err(
                    k.pos,
                    &p,
                    format!(
                        "window {w:?} is not a whole multiple of telemetry.interval ({i:?}): windows are made of interval histograms"
                    ),
                );
                ok = false;
            }
        }
        let exprs: Vec<&Node> = match &v.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Str(_) => vec![v],
            _ => {
                cx.err(
                    v.pos,
                    &p,
                    "expected a list of expressions like [\"p(99) < 5ms\"] or { threshold, abortOnFail, delayAbortEval }",
                );
                ok = false;
                continue;
            }
        };
        for (i, e) in exprs.into_iter().enumerate() {
            let ep = format!("{p}[{i}]");
            let Some((text, pos, abort_on_fail, delay_abort_eval)) = threshold_item(cx, e, &ep)
            else {
                ok = false;
                continue;
            };
            match parse_expr(def, &text) {
                Ok((agg, op, limit)) => out.push(Threshold {
                    metric: k.name.clone(),
                    name: def.name,
                    unit: def.unit,
                    workload: tags.workload.clone(),
                    expr: text,
                    agg,
                    op,
                    limit,
                    window: tags.window,
                    abort_on_fail,
                    delay_abort_eval,
                }),
                Err(msg) => {
                    cx.err(pos, &ep, msg);
                    ok = false;
                }
            }
        }
    }
    ok.then_some(out)
}
