//! Tree → model, the authority: the embedded mock (lifetimes, signing, latency model,
//! fault rules) or an external URL with its CA file.

use std::time::Duration;

use mock_authority::{
    FaultAction, FaultMatch, FaultRule, FaultTrigger, Grant, LatencyModel, SigningAlg, TimeWindow,
};

use super::check::positive;
use super::ctx::{join, Ctx};
use super::model::*;
use super::tree::{Node, Value};

pub fn authority(cx: &mut Ctx<'_>, n: &Node) -> Option<AuthoritySpec> {
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
