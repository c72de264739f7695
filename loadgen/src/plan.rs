//! `loadgen plan`: projects L1 and L2 memory, identity-provider requests/s and L2 (Redis)
//! operations/s for a target population from a run's measured bytes per partition, hit
//! ratios and rates (report.json `capacity`). See loadgen/PLAN.md for the model.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::scenario::ctx::Ctx;
use crate::scenario::diag::{Diagnostic, Invalid};
use crate::scenario::tree::{Node, Pos};
use crate::scenario::units;

/// Microsoft's published sizes: 2–3 KB per app token, about 7 KB per web-app user.
pub const MS_APP_TOKEN_BYTES: (f64, f64) = (2048.0, 3072.0);
pub const MS_WEB_APP_USER_BYTES: f64 = 7168.0;

/// A target population; unset fields keep the measured value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    /// Tenants of client-credentials workloads.
    pub tenants: Option<u64>,
    /// Resources (APIs) per tenant of client-credentials workloads.
    pub resources: Option<u64>,
    /// Users of web-app and on-behalf-of workloads.
    pub users: Option<u64>,
    /// APIs per user of web-app and on-behalf-of workloads.
    pub apis: Option<u64>,
    /// On-behalf-of partitions (one per upstream assertion).
    pub obo_sessions: Option<u64>,
    pub token_lifetime: Option<Duration>,
    /// Total acquisitions per second (split across flows as measured); unset: scaled with
    /// the tokens, at the measured requests per token.
    pub rate: Option<f64>,
}

const KEYS: &[&str] = &[
    "tenants",
    "resources",
    "users",
    "apis",
    "obo_sessions",
    "token_lifetime",
    "rate",
];

impl Target {
    /// Parses a target YAML file; every problem is reported with file:line:column.
    pub fn parse(file: &str, text: &str) -> Result<Target, Invalid> {
        let at = |pos, message: String| {
            Invalid(vec![Diagnostic {
                file: file.to_owned(),
                pos,
                path: String::new(),
                message,
            }])
        };
        let root = Node::parse(text).map_err(|(pos, e)| at(pos, format!("not valid YAML: {e}")))?;
        let mut cx = Ctx::new(file);
        let mut t = Target::default();
        if let Some(f) = cx.map(&root, "", KEYS) {
            let count = |cx: &mut Ctx<'_>, n: &Node, p: &str| {
                let v = cx.uint(n, p)?;
                if v == 0 {
                    cx.err(n.pos, p, "must be at least 1");
                    return None;
                }
                Some(v)
            };
            t.tenants = cx.opt(&f, "tenants", "", count);
            t.resources = cx.opt(&f, "resources", "", count);
            t.users = cx.opt(&f, "users", "", count);
            t.apis = cx.opt(&f, "apis", "", count);
            t.obo_sessions = cx.opt(&f, "obo_sessions", "", count);
            t.token_lifetime = cx.opt(&f, "token_lifetime", "", |cx, n, p| {
                let d = cx.duration(n, p)?;
                if d.is_zero() {
                    cx.err(n.pos, p, "must be longer than 0s");
                    return None;
                }
                Some(d)
            });
            t.rate = cx.opt(&f, "rate", "", |cx, n, p| cx.rate(n, p));
        }
        if cx.errors.is_empty() {
            Ok(t)
        } else {
            Err(Invalid(cx.errors))
        }
    }

    pub fn load(path: &Path) -> Result<Target, Invalid> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Invalid(vec![Diagnostic {
                file: file.clone(),
                pos: Pos::At { line: 0, col: 0 },
                path: String::new(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Target::parse(&file, &text)
    }

    /// `other`'s set fields replace this one's.
    pub fn overlay(self, other: &Target) -> Target {
        Target {
            tenants: other.tenants.or(self.tenants),
            resources: other.resources.or(self.resources),
            users: other.users.or(self.users),
            apis: other.apis.or(self.apis),
            obo_sessions: other.obo_sessions.or(self.obo_sessions),
            token_lifetime: other.token_lifetime.or(self.token_lifetime),
            rate: other.rate.or(self.rate),
        }
    }
}

/// Parses a `--flag` count.
pub fn count_flag(flag: &str, raw: &str) -> Result<u64, String> {
    match raw.trim().replace('_', "").parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} {raw:?}: expected a whole number ≥ 1")),
    }
}

pub fn duration_flag(flag: &str, raw: &str) -> Result<Duration, String> {
    match units::duration(raw) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!("{flag} {raw:?}: must be longer than 0s")),
        Err(e) => Err(format!("{flag}: {e}")),
    }
}

pub fn rate_flag(flag: &str, raw: &str) -> Result<f64, String> {
    units::rate(raw).map_err(|e| format!("{flag}: {e}"))
}

/// What a run measured for one flow (its workloads summed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub members: u64,
    pub partitions: u64,
    /// Resources per partition, partition-weighted over the flow's workloads.
    pub resources: f64,
    pub l1_bytes: f64,
    pub l2_bytes: f64,
    pub requests_per_s: f64,
    pub idp_per_s: f64,
}

impl Measured {
    fn l1_per_partition(&self) -> f64 {
        self.l1_bytes / self.partitions.max(1) as f64
    }
    fn l2_per_partition(&self) -> f64 {
        self.l2_bytes / self.partitions.max(1) as f64
    }
    fn miss_ratio(&self) -> f64 {
        if self.requests_per_s > 0.0 {
            self.idp_per_s / self.requests_per_s
        } else {
            0.0
        }
    }
}

/// The inputs of a plan, read from report.json `capacity`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub scenario: String,
    pub virtual_seconds: f64,
    pub token_lifetime_s: f64,
    /// The authority's `refresh_in` (proactive refresh), if the run had one.
    pub refresh_in_s: Option<f64>,
    pub flows: BTreeMap<String, Measured>,
    pub l2_reads_per_acquisition: f64,
    pub l2_writes_per_idp_request: f64,
    /// What the run measured, for the self-check.
    pub peak_l1_bytes: f64,
    pub peak_l2_bytes: f64,
    pub idp_per_s: f64,
    pub l2_ops_per_s: f64,
    pub rss_before: f64,
    pub rss_per_partition: f64,
}

impl Inputs {
    pub fn from_report(path: &Path, r: &Value) -> Result<Inputs, String> {
        let where_ = path.display();
        let cap = &r["capacity"];
        if !cap.is_object() {
            return Err(format!(
                "{where_}: no capacity inputs (key 'capacity'): plan from the report of a run with `populate: true` (not a merged report)"
            ));
        }
        let num = |v: &Value, key: &str| -> Result<f64, String> {
            v.as_f64()
                .ok_or_else(|| format!("{where_}: {key} is missing or not a number"))
        };
        let token_lifetime_s =
            num(&cap["token_lifetime_s"], "capacity.token_lifetime_s").map_err(|e| {
                format!("{e} (runs against an external authority have no known token lifetime)")
            })?;
        let mut flows: BTreeMap<String, Measured> = BTreeMap::new();
        let workloads = cap["workloads"]
            .as_object()
            .ok_or_else(|| format!("{where_}: capacity.workloads is missing"))?;
        for (name, w) in workloads {
            let k = |f: &str| format!("capacity.workloads.{name}.{f}");
            let flow = w["flow"]
                .as_str()
                .ok_or_else(|| format!("{where_}: {} is missing", k("flow")))?;
            let partitions = num(&w["partitions"], &k("partitions"))? as u64;
            let m = flows.entry(flow.to_owned()).or_default();
            let resources = num(&w["resources"], &k("resources"))?;
            m.resources = (m.resources * m.partitions as f64 + resources * partitions as f64)
                / (m.partitions + partitions).max(1) as f64;
            m.members += num(&w["members"], &k("members"))? as u64;
            m.partitions += partitions;
            m.l1_bytes += w["l1_bytes_per_partition"].as_f64().unwrap_or(0.0) * partitions as f64;
            m.l2_bytes += w["l2_bytes_per_partition"].as_f64().unwrap_or(0.0) * partitions as f64;
            m.requests_per_s += num(&w["acquisitions_per_s"], &k("acquisitions_per_s"))?;
            m.idp_per_s += num(
                &w["identity_provider_requests_per_s"],
                &k("identity_provider_requests_per_s"),
            )?;
        }
        // IdP requests per flow by grant type when the report has them: they include the
        // background proactive refreshes, which no acquisition counts as served by the IdP.
        let grants = &r["identity_provider"]["by_grant_type"];
        if grants.is_object() {
            let secs = num(&cap["virtual_seconds"], "capacity.virtual_seconds")?.max(1e-9);
            for (flow, m) in &mut flows {
                // fold from +0.0: an empty f64 `sum()` is -0.0, printed as "-0.00".
                let n = grants_of(flow)
                    .iter()
                    .filter_map(|g| grants[*g].as_f64())
                    .fold(0.0, |a, b| a + b);
                m.idp_per_s = n / secs;
            }
        }
        if flows.values().all(|m| m.partitions == 0) {
            return Err(format!(
                "{where_}: the populate phase wrote no partitions: nothing to project from"
            ));
        }
        let growth = &r["memory"]["growth_per_1000_partitions"];
        Ok(Inputs {
            scenario: r["scenario"]["name"].as_str().unwrap_or("").to_owned(),
            virtual_seconds: num(&cap["virtual_seconds"], "capacity.virtual_seconds")?,
            token_lifetime_s,
            refresh_in_s: cap["refresh_in_s"].as_f64(),
            flows,
            l2_reads_per_acquisition: num(
                &cap["l2_reads_per_acquisition"],
                "capacity.l2_reads_per_acquisition",
            )?,
            l2_writes_per_idp_request: num(
                &cap["l2_writes_per_identity_provider_request"],
                "capacity.l2_writes_per_identity_provider_request",
            )?,
            peak_l1_bytes: num(&r["memory"]["peak"]["l1_bytes"], "memory.peak.l1_bytes")?,
            peak_l2_bytes: num(&r["memory"]["peak"]["l2_bytes"], "memory.peak.l2_bytes")?,
            idp_per_s: num(
                &cap["identity_provider_requests_per_s"],
                "capacity.identity_provider_requests_per_s",
            )?,
            l2_ops_per_s: num(&cap["l2_ops_per_s"], "capacity.l2_ops_per_s")?,
            rss_before: cap["rss_bytes_before_populate"].as_f64().unwrap_or(0.0),
            rss_per_partition: growth["rss_bytes"].as_f64().unwrap_or(0.0) / 1000.0,
        })
    }
}

/// The grant types a flow's token requests use.
fn grants_of(flow: &str) -> &'static [&'static str] {
    match flow {
        "client_credentials" => &["client_credentials"],
        "on_behalf_of" => &["urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "web_app" => &["authorization_code", "refresh_token"],
        _ => &[],
    }
}

/// MSAL treats an access token as expired 5 minutes before its expiry.
pub const EXPIRY_BUFFER_S: f64 = 300.0;

/// How long a token serves before the cache asks the IdP again: `refresh_in` when the
/// authority sets it (scaled with the lifetime), else the lifetime less MSAL's buffer.
pub fn refresh_period(lifetime_s: f64, measured: &Inputs) -> f64 {
    match measured.refresh_in_s {
        Some(r) => r * lifetime_s / measured.token_lifetime_s,
        None => (lifetime_s - EXPIRY_BUFFER_S).max(1.0),
    }
}

/// One flow's projection.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowPlan {
    pub partitions: f64,
    pub resources: f64,
    pub requests_per_s: f64,
    pub idp_per_s: f64,
    pub l1_bytes: f64,
    pub l2_bytes: f64,
    pub formulas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub flows: BTreeMap<String, FlowPlan>,
    pub token_lifetime_s: f64,
    pub requests_per_s: f64,
    pub idp_per_s: f64,
    pub l2_ops_per_s: f64,
    pub l1_bytes: f64,
    pub l2_bytes: f64,
    pub rss_bytes: f64,
    pub formulas: Vec<String>,
}

fn n0(v: f64) -> String {
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && v.round() != 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

fn n2(v: f64) -> String {
    format!("{v:.2}")
}

/// Bytes with a binary unit.
pub fn bytes(v: f64) -> String {
    const U: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i + 1 < U.len() {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{} B", n0(x))
    } else {
        format!("{x:.2} {}", U[i])
    }
}

/// Projects `inputs` onto `target`.
pub fn project(inputs: &Inputs, target: &Target) -> Plan {
    let lifetime = target
        .token_lifetime
        .map_or(inputs.token_lifetime_s, |d| d.as_secs_f64());
    let (period_m, period_t) = (
        refresh_period(inputs.token_lifetime_s, inputs),
        refresh_period(lifetime, inputs),
    );
    let life_k = period_m / period_t;
    let measured_rate: f64 = inputs.flows.values().map(|m| m.requests_per_s).sum();
    let mut flows = BTreeMap::new();
    for (flow, m) in &inputs.flows {
        let per_member = m.partitions as f64 / m.members.max(1) as f64;
        let mut f = Vec::new();
        let (partitions, resources) = match flow.as_str() {
            "client_credentials" => {
                let p = match target.tenants {
                    Some(t) => {
                        f.push(format!(
                            "partitions = tenants × partitions per tenant = {} × {} = {}",
                            n0(t as f64),
                            n2(per_member),
                            n0(t as f64 * per_member)
                        ));
                        t as f64 * per_member
                    }
                    None => m.partitions as f64,
                };
                (p, target.resources.map_or(m.resources, |r| r as f64))
            }
            _ => {
                let p = match (flow.as_str(), target.obo_sessions, target.users) {
                    ("on_behalf_of", Some(s), _) => {
                        f.push(format!(
                            "partitions = OBO sessions (one per upstream assertion) = {}",
                            n0(s as f64)
                        ));
                        s as f64
                    }
                    (_, _, Some(u)) => {
                        f.push(format!(
                            "partitions = users × partitions per user = {} × {} = {}",
                            n0(u as f64),
                            n2(per_member),
                            n0(u as f64 * per_member)
                        ));
                        u as f64 * per_member
                    }
                    _ => m.partitions as f64,
                };
                (p, target.apis.map_or(m.resources, |r| r as f64))
            }
        };
        let res_k = resources / m.resources.max(1e-9);
        let part_k = partitions / (m.partitions.max(1)) as f64;
        let l1 = partitions * m.l1_per_partition() * res_k;
        let l2 = partitions * m.l2_per_partition() * res_k;
        f.push(format!(
            "L1 bytes = partitions × {} B/partition (measured) × resources {} / {} (measured) = {}",
            n0(m.l1_per_partition()),
            n2(resources),
            n2(m.resources),
            bytes(l1)
        ));
        f.push(format!(
            "L2 bytes = partitions × {} B/partition (measured) × resources {} / {} (measured) = {}",
            n0(m.l2_per_partition()),
            n2(resources),
            n2(m.resources),
            bytes(l2)
        ));
        let rate = match target.rate {
            Some(r) => {
                let share = if measured_rate > 0.0 {
                    m.requests_per_s / measured_rate
                } else {
                    0.0
                };
                f.push(format!(
                    "requests/s = target rate × measured share = {} × {} = {}",
                    n2(r),
                    n2(share),
                    n2(r * share)
                ));
                r * share
            }
            None => {
                let r = m.requests_per_s * part_k * res_k;
                f.push(format!(
                    "requests/s = {} (measured) × partitions {} / {} × resources {} / {} = {}",
                    n2(m.requests_per_s),
                    n0(partitions),
                    n0(m.partitions as f64),
                    n2(resources),
                    n2(m.resources),
                    n2(r)
                ));
                r
            }
        };
        let idp = rate * m.miss_ratio() * life_k;
        f.push(format!(
            "IdP requests/s = requests/s × IdP requests per acquisition {} (measured) × refresh period {} s (measured) / {} s = {}",
            format_args!("{:.4}", m.miss_ratio()),
            n0(period_m),
            n0(period_t),
            n2(idp)
        ));
        flows.insert(
            flow.clone(),
            FlowPlan {
                partitions,
                resources,
                requests_per_s: rate,
                idp_per_s: idp,
                l1_bytes: l1,
                l2_bytes: l2,
                formulas: f,
            },
        );
    }
    let sum = |g: fn(&FlowPlan) -> f64| flows.values().map(g).fold(0.0, |a, b| a + b);
    let (rate, idp) = (sum(|p| p.requests_per_s), sum(|p| p.idp_per_s));
    let partitions = sum(|p| p.partitions);
    let l2_ops = rate * inputs.l2_reads_per_acquisition + idp * inputs.l2_writes_per_idp_request;
    let rss = inputs.rss_before + partitions * inputs.rss_per_partition;
    let formulas = vec![
        format!(
            "L2 (Redis) ops/s = requests/s × {} L2 reads per acquisition + IdP requests/s × {} L2 writes per IdP request = {} × {} + {} × {} = {}",
            format_args!("{:.4}", inputs.l2_reads_per_acquisition),
            format_args!("{:.4}", inputs.l2_writes_per_idp_request),
            n2(rate),
            format_args!("{:.4}", inputs.l2_reads_per_acquisition),
            n2(idp),
            format_args!("{:.4}", inputs.l2_writes_per_idp_request),
            n2(l2_ops)
        ),
        format!(
            "process RSS ≈ {} before populate + partitions × {} B growth per partition = {} (rough: the growth includes the embedded mock authority and one-time allocations of the first populate)",
            bytes(inputs.rss_before),
            n0(inputs.rss_per_partition),
            bytes(rss)
        ),
    ];
    Plan {
        token_lifetime_s: lifetime,
        requests_per_s: rate,
        idp_per_s: idp,
        l2_ops_per_s: l2_ops,
        l1_bytes: sum(|p| p.l1_bytes),
        l2_bytes: sum(|p| p.l2_bytes),
        rss_bytes: rss,
        flows,
        formulas,
    }
}

/// The projection onto the measured population next to what the run measured.
pub fn self_check(inputs: &Inputs) -> Vec<(&'static str, f64, f64)> {
    let p = project(inputs, &Target::default());
    vec![
        ("L1 bytes (peak)", p.l1_bytes, inputs.peak_l1_bytes),
        ("L2 bytes (peak)", p.l2_bytes, inputs.peak_l2_bytes),
        ("IdP requests/s", p.idp_per_s, inputs.idp_per_s),
        ("L2 ops/s", p.l2_ops_per_s, inputs.l2_ops_per_s),
    ]
}

/// What makes the projection unreliable.
pub fn warnings(inputs: &Inputs) -> Vec<String> {
    let mut w = Vec::new();
    let period = refresh_period(inputs.token_lifetime_s, inputs);
    if inputs.virtual_seconds < 2.0 * period {
        w.push(format!(
            "the run lasted {} s of virtual time, less than two refresh periods ({} s each: token lifetime {} s less MSAL's 5-minute buffer, or refresh_in): its IdP requests per acquisition leave out refreshes, so the IdP and L2 rates are too low; run for several refresh periods (or with shorter tokens)",
            n0(inputs.virtual_seconds),
            n0(period),
            n0(inputs.token_lifetime_s)
        ));
    }
    w
}

fn deviation(projected: f64, measured: f64) -> Option<f64> {
    (measured != 0.0).then(|| (projected - measured) / measured)
}

/// Per-token and per-user sizes beside Microsoft's published ones.
pub fn microsoft(inputs: &Inputs) -> Vec<(String, f64, f64, String)> {
    let mut rows = Vec::new();
    if let Some(m) = inputs.flows.get("client_credentials") {
        for (level, b) in [("L1", m.l1_per_partition()), ("L2", m.l2_per_partition())] {
            rows.push((
                format!("app token ({level})"),
                b / m.resources.max(1e-9),
                (MS_APP_TOKEN_BYTES.0 + MS_APP_TOKEN_BYTES.1) / 2.0,
                "2–3 KB per app token".to_owned(),
            ));
        }
    }
    if let Some(m) = inputs.flows.get("web_app") {
        let per_user = m.partitions as f64 / m.members.max(1) as f64;
        for (level, b) in [("L1", m.l1_per_partition()), ("L2", m.l2_per_partition())] {
            rows.push((
                format!("web-app user with {} API(s) ({level})", n2(m.resources)),
                b * per_user,
                MS_WEB_APP_USER_BYTES,
                "~7 KB per web-app user".to_owned(),
            ));
        }
    }
    rows
}

fn target_json(t: &Target) -> Value {
    json!({
        "tenants": t.tenants, "resources": t.resources, "users": t.users, "apis": t.apis,
        "obo_sessions": t.obo_sessions,
        "token_lifetime_s": t.token_lifetime.map(|d| d.as_secs_f64()),
        "rate_per_s": t.rate,
    })
}

pub fn to_json(from: &Path, inputs: &Inputs, target: &Target, plan: &Plan) -> Value {
    let flows: serde_json::Map<String, Value> = plan
        .flows
        .iter()
        .map(|(f, p)| {
            let m = &inputs.flows[f];
            (
                f.clone(),
                json!({
                    "partitions": p.partitions.round(),
                    "resources": p.resources,
                    "requests_per_s": p.requests_per_s,
                    "identity_provider_requests_per_s": p.idp_per_s,
                    "l1_bytes": p.l1_bytes.round(),
                    "l2_bytes": p.l2_bytes.round(),
                    "formulas": p.formulas,
                    "measured": {
                        "members": m.members, "partitions": m.partitions, "resources": m.resources,
                        "l1_bytes_per_partition": m.l1_per_partition().round(),
                        "l2_bytes_per_partition": m.l2_per_partition().round(),
                        "requests_per_s": m.requests_per_s,
                        "identity_provider_requests_per_s": m.idp_per_s,
                        "idp_requests_per_acquisition": m.miss_ratio(),
                    },
                }),
            )
        })
        .collect();
    let check: Vec<Value> = self_check(inputs)
        .into_iter()
        .map(|(k, p, m)| json!({"figure": k, "projected": p, "measured": m, "deviation": deviation(p, m)}))
        .collect();
    let ms: Vec<Value> = microsoft(inputs)
        .into_iter()
        .map(|(k, ours, theirs, note)| json!({"figure": k, "measured_bytes": ours.round(), "microsoft_bytes": theirs, "microsoft": note, "ratio": ours / theirs}))
        .collect();
    json!({
        "from": from.display().to_string(),
        "scenario": inputs.scenario,
        "measured_token_lifetime_s": inputs.token_lifetime_s,
        "measured_refresh_period_s": refresh_period(inputs.token_lifetime_s, inputs),
        "refresh_period_s": refresh_period(plan.token_lifetime_s, inputs),
        "target": target_json(target),
        "flows": flows,
        "total": {
            "token_lifetime_s": plan.token_lifetime_s,
            "requests_per_s": plan.requests_per_s,
            "identity_provider_requests_per_s": plan.idp_per_s,
            "l2_ops_per_s": plan.l2_ops_per_s,
            "l1_bytes": plan.l1_bytes.round(),
            "l2_bytes": plan.l2_bytes.round(),
            "rss_bytes": plan.rss_bytes.round(),
        },
        "formulas": plan.formulas,
        "self_check": check,
        "microsoft": ms,
        "warnings": warnings(inputs),
    })
}

pub fn to_text(from: &Path, inputs: &Inputs, plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Capacity plan from {} (scenario {}, {} s virtual, tokens live {} s)\n",
        from.display(),
        inputs.scenario,
        n0(inputs.virtual_seconds),
        n0(inputs.token_lifetime_s)
    );
    let _ = writeln!(s, "Formulas (measured inputs):");
    for (f, p) in &plan.flows {
        let _ = writeln!(s, "  {f}:");
        for l in &p.formulas {
            let _ = writeln!(s, "    {l}");
        }
    }
    for l in &plan.formulas {
        let _ = writeln!(s, "  {l}");
    }
    let _ = writeln!(
        s,
        "\n  {:<20} {:>12} {:>9} {:>12} {:>12} {:>12} {:>12}",
        "flow", "partitions", "tokens/p", "requests/s", "IdP req/s", "L1", "L2"
    );
    for (f, p) in &plan.flows {
        let _ = writeln!(
            s,
            "  {:<20} {:>12} {:>9} {:>12} {:>12} {:>12} {:>12}",
            f,
            n0(p.partitions),
            n2(p.resources),
            n2(p.requests_per_s),
            n2(p.idp_per_s),
            bytes(p.l1_bytes),
            bytes(p.l2_bytes)
        );
    }
    let _ = writeln!(
        s,
        "  {:<20} {:>12} {:>9} {:>12} {:>12} {:>12} {:>12}",
        "total",
        n0(plan.flows.values().map(|p| p.partitions).sum()),
        "",
        n2(plan.requests_per_s),
        n2(plan.idp_per_s),
        bytes(plan.l1_bytes),
        bytes(plan.l2_bytes)
    );
    let _ = writeln!(
        s,
        "  L2 (Redis) ops/s {}   process RSS ≈ {}   token lifetime {} s",
        n2(plan.l2_ops_per_s),
        bytes(plan.rss_bytes),
        n0(plan.token_lifetime_s)
    );
    for w in warnings(inputs) {
        let _ = writeln!(s, "\n  warning: {w}");
    }
    let _ = writeln!(
        s,
        "\nSelf-check (projection onto the measured population vs the run):"
    );
    for (k, p, m) in self_check(inputs) {
        let dev = deviation(p, m).map_or("n/a".to_owned(), |d| format!("{:+.1}%", d * 100.0));
        let (p, m) = if k.ends_with("/s") {
            (n2(p), n2(m))
        } else {
            (bytes(p), bytes(m))
        };
        let _ = writeln!(s, "  {k:<18} projected {p:>12}  measured {m:>12}  {dev}");
    }
    let ms = microsoft(inputs);
    if !ms.is_empty() {
        let _ = writeln!(s, "\nMicrosoft's published sizes:");
        for (k, ours, theirs, note) in ms {
            let _ = writeln!(
                s,
                "  {k:<32} {:>10} vs {note} ({:.2}× of {})",
                bytes(ours),
                ours / theirs,
                bytes(theirs)
            );
        }
    }
    s
}
