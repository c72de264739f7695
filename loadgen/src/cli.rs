//! The command line (stable names, DESIGN §4): `loadgen run`, `validate`, `compare`,
//! `report`, `merge`, `inspect` and `plan`, and the exit codes: 0 pass · 1 runtime error · 2 invalid input · 98 regression
//! against the baseline · 99 a threshold failed.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::scenario::model::Instance;
use crate::{compare, merge, report, run, scenario};

pub const EXIT_PASS: i32 = 0;
pub const EXIT_RUNTIME: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
pub const EXIT_REGRESSION: i32 = 98;
pub const EXIT_THRESHOLD: i32 = 99;

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator for the token cache: scenario YAML → run → HdrHistograms → report → CI gate"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run a scenario and write its report (exit 99 when a threshold fails).
    Run {
        scenario: PathBuf,
        /// Output directory (default: out/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario value, e.g. --set duration=30s --set workload[0].arrival.rate=50/s
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Compare with this report afterwards (exit 98 on a regression; comparison.md in --out).
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Tolerance of a compared metric, e.g. durations_ms.total.p99=30%
        #[arg(long = "tolerance", value_name = "METRIC=PERCENT")]
        tolerance: Vec<String>,
        /// Significance level of the latency test against the baseline (Mann-Whitney U).
        #[arg(long, value_name = "P", default_value = "0.01")]
        alpha: String,
        /// Run instance I of N (0-based): its share of tenants/users and 1/N of the arrivals
        /// or callers; merge the instances' reports with `loadgen merge`.
        #[arg(long, value_name = "I/N", conflicts_with = "instances")]
        instance: Option<String>,
        /// Run one of N instances, the index taken from JOB_COMPLETION_INDEX (a Kubernetes
        /// Indexed Job).
        #[arg(long, value_name = "N")]
        instances: Option<u32>,
        /// Serve the run's metrics for Prometheus at http://ADDR/metrics (e.g. 127.0.0.1:9464
        /// or :9464); wins over telemetry.prometheus.listen.
        #[arg(long, value_name = "ADDR")]
        prometheus_listen: Option<String>,
    },
    /// Merge the reports of a multi-instance run exactly (histograms added, counters summed,
    /// percentiles and thresholds recomputed) into OUT_DIR; exit 99 when a threshold fails.
    Merge {
        out_dir: PathBuf,
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
    /// Re-render a past run from its report.json: print its summary (as `run` printed it) and
    /// write summary.txt and report.html; with two reports, overlay.html comparing both.
    Report {
        /// One report.json, or two (A B) to overlay.
        #[arg(required = true, num_args = 1..=2)]
        reports: Vec<PathBuf>,
        /// Where to write the HTML page (default: DIR/report.html, or DIR/overlay.html for two).
        #[arg(long, value_name = "OUT")]
        html: Option<PathBuf>,
        /// Directory for summary.txt and the page (default: beside the first report).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Compare two reports: a Markdown table (for a PR comment); exit 98 on a regression.
    Compare {
        baseline: PathBuf,
        current: PathBuf,
        /// Tolerance of a compared metric, e.g. durations_ms.total.p99=30%
        #[arg(long = "tolerance", value_name = "METRIC=PERCENT")]
        tolerance: Vec<String>,
        /// Significance level of the latency test (Mann-Whitney U): a latency change is a
        /// regression only when it exceeds its tolerance and p < alpha.
        #[arg(long, value_name = "P", default_value = "0.01")]
        alpha: String,
    },
    /// Project L1/L2 memory, identity-provider requests/s and L2 ops/s for a target
    /// population from a run's report.json (see loadgen/PLAN.md).
    Plan {
        /// The report of a run with `populate: true`.
        #[arg(long, value_name = "REPORT.json")]
        from: PathBuf,
        /// Target population in YAML (keys: tenants, resources, users, apis, obo_sessions,
        /// token_lifetime, rate); flags override it.
        #[arg(long, value_name = "FILE.yaml")]
        target: Option<PathBuf>,
        /// Tenants of the client-credentials (daemon) flow.
        #[arg(long, value_name = "N")]
        tenants: Option<String>,
        /// Resources (APIs) per tenant of the client-credentials flow.
        #[arg(long, value_name = "N")]
        resources: Option<String>,
        /// Users of the web-app and on-behalf-of flows.
        #[arg(long, value_name = "N")]
        users: Option<String>,
        /// APIs per user of the web-app and on-behalf-of flows.
        #[arg(long, value_name = "N")]
        apis: Option<String>,
        /// On-behalf-of partitions (one per upstream assertion).
        #[arg(long, value_name = "N")]
        obo_sessions: Option<String>,
        /// Access-token lifetime, e.g. 1h.
        #[arg(long, value_name = "DURATION")]
        token_lifetime: Option<String>,
        /// Total acquisitions per second, e.g. 500/s (default: scaled with the tokens).
        #[arg(long, value_name = "RATE")]
        rate: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Decode a partition blob (file, Redis, Redis Cluster or PostgreSQL) without printing
    /// tokens, or --list the partition keys; exit 2 on a bad blob or key, 1 when unreachable.
    Inspect(crate::inspect::InspectArgs),
    /// Check scenario files; report every error with file:line:column and YAML path.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs the command line; returns the exit code.
pub fn main_with(cli: Cli) -> i32 {
    match cli.cmd {
        Cmd::Validate { files } => validate(&files),
        Cmd::Run {
            scenario,
            out,
            set,
            baseline,
            tolerance,
            alpha,
            instance,
            instances,
            prometheus_listen,
        } => match parse_instance(instance.as_deref(), instances) {
            Ok(inst) => run_cmd(
                &scenario,
                out,
                &set,
                baseline.as_deref(),
                &tolerance,
                &alpha,
                inst,
                prometheus_listen.as_deref(),
            ),
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_INVALID
            }
        },
        Cmd::Merge { out_dir, reports } => merge_cmd(&out_dir, &reports),
        Cmd::Plan {
            from,
            target,
            tenants,
            resources,
            users,
            apis,
            obo_sessions,
            token_lifetime,
            rate,
            json,
        } => {
            let flags = (|| {
                let c = |flag: &str, v: &Option<String>| {
                    v.as_deref()
                        .map(|raw| crate::plan::count_flag(flag, raw))
                        .transpose()
                };
                Ok::<_, String>(crate::plan::Target {
                    tenants: c("--tenants", &tenants)?,
                    resources: c("--resources", &resources)?,
                    users: c("--users", &users)?,
                    apis: c("--apis", &apis)?,
                    obo_sessions: c("--obo-sessions", &obo_sessions)?,
                    token_lifetime: token_lifetime
                        .as_deref()
                        .map(|r| crate::plan::duration_flag("--token-lifetime", r))
                        .transpose()?,
                    rate: rate
                        .as_deref()
                        .map(|r| crate::plan::rate_flag("--rate", r))
                        .transpose()?,
                })
            })();
            match flags {
                Ok(flags) => plan_cmd(&from, target.as_deref(), &flags, json),
                Err(e) => {
                    eprintln!("error: {e}");
                    EXIT_INVALID
                }
            }
        }
        Cmd::Inspect(args) => crate::inspect::main(args),
        Cmd::Report { reports, html, out } => report_cmd(&reports, html, out),
        Cmd::Compare {
            baseline,
            current,
            tolerance,
            alpha,
        } => compare_cmd(&baseline, &current, &tolerance, &alpha),
    }
}

fn report_cmd(reports: &[PathBuf], html: Option<PathBuf>, out: Option<PathBuf>) -> i32 {
    let mut jsons = Vec::new();
    for p in reports {
        match compare::read(p) {
            Ok(v) => jsons.push(v),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INVALID;
            }
        }
    }
    let mut runs = Vec::new();
    for (i, (p, j)) in reports.iter().zip(&jsons).enumerate() {
        let label = if i == 0 { "A" } else { "B" };
        match report::html::Run::new(label, &p.display().to_string(), j) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("error: {}: {e:#}", p.display());
                return EXIT_INVALID;
            }
        }
    }
    let dir = out.unwrap_or_else(|| {
        reports[0]
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    });
    let page = html.unwrap_or_else(|| {
        dir.join(if runs.len() > 1 {
            "overlay.html"
        } else {
            "report.html"
        })
    });
    let mut summaries = String::new();
    for (r, j) in runs.iter().zip(&jsons) {
        if runs.len() > 1 {
            summaries.push_str(&format!("── {} = {}\n", r.label, r.source));
        }
        summaries.push_str(&report::summary::render(j));
    }
    print!("{summaries}");
    let summary = dir.join("summary.txt");
    let page_dir = page
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let steps = [
        (dir.as_path(), None),
        (summary.as_path(), Some(summaries)),
        (page_dir, None),
        (page.as_path(), Some(report::html::render(&runs))),
    ];
    for (path, text) in steps {
        let r = match text {
            None => std::fs::create_dir_all(path),
            Some(t) => std::fs::write(path, t),
        };
        if let Err(e) = r {
            eprintln!("error: writing {}: {e}", path.display());
            return EXIT_RUNTIME;
        }
    }
    eprintln!("wrote {} and {}", summary.display(), page.display());
    EXIT_PASS
}

fn validate(files: &[PathBuf]) -> i32 {
    let mut code = EXIT_PASS;
    for f in files {
        match scenario::load(f, &[]) {
            Ok(s) => println!(
                "✓ {} ({}: {} workload(s), {} threshold(s))",
                f.display(),
                s.name,
                s.workloads.len(),
                s.thresholds.len()
            ),
            Err(e) => {
                eprint!("✗ {}: {e}", f.display());
                code = EXIT_INVALID;
            }
        }
    }
    code
}

async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
    eprintln!("\ninterrupted: stopping and writing the report for what ran");
}

fn tolerances(raw: &[String]) -> Result<Vec<(&'static str, f64)>, String> {
    raw.iter().map(|t| compare::parse_tolerance(t)).collect()
}

fn compare_cmd(baseline: &Path, current: &Path, raw: &[String], alpha: &str) -> i32 {
    let inputs = (|| {
        let (b, c) = (compare::read(baseline)?, compare::read(current)?);
        let (tol, alpha) = (tolerances(raw)?, compare::parse_alpha(alpha)?);
        let rows = compare::compare(&b, &c, &tol, alpha)?;
        Ok::<_, String>((rows, alpha))
    })();
    let (rows, alpha) = match inputs {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    print!(
        "{}",
        compare::markdown(
            &rows,
            &baseline.display().to_string(),
            &current.display().to_string(),
            alpha
        )
    );
    if rows.iter().any(|r| r.regression) {
        EXIT_REGRESSION
    } else {
        EXIT_PASS
    }
}

/// `--instance I/N`, or `--instances N` with the index from `JOB_COMPLETION_INDEX`.
pub fn parse_instance(
    instance: Option<&str>,
    instances: Option<u32>,
) -> Result<Option<Instance>, String> {
    let (index, count) = match (instance, instances) {
        (None, None) => return Ok(None),
        (Some(s), _) => {
            let (i, n) = s
                .split_once('/')
                .ok_or_else(|| format!("--instance {s:?}: expected I/N, e.g. 0/4"))?;
            let i: u32 = i
                .trim()
                .parse()
                .map_err(|_| format!("--instance {s:?}: {i:?} is not an index"))?;
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("--instance {s:?}: {n:?} is not a count"))?;
            (i, n)
        }
        (None, Some(n)) => {
            let raw = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                "--instances: the environment variable JOB_COMPLETION_INDEX is not set (or use --instance I/N)".to_owned()
            })?;
            let i: u32 = raw.trim().parse().map_err(|_| {
                format!("JOB_COMPLETION_INDEX={raw:?} is not a non-negative integer")
            })?;
            (i, n)
        }
    };
    if count == 0 || index >= count {
        return Err(format!(
            "instance {index}/{count}: the index must be in 0..{count} (0-based)"
        ));
    }
    Ok(Some(Instance { index, count }))
}

fn plan_cmd(from: &Path, target: Option<&Path>, flags: &crate::plan::Target, json: bool) -> i32 {
    use crate::plan;
    let base = match target.map(plan::Target::load).transpose() {
        Ok(t) => t.unwrap_or_default(),
        Err(e) => {
            let n = e.0.len();
            eprintln!(
                "{n} error{} in the target file:",
                if n == 1 { "" } else { "s" }
            );
            for d in &e.0 {
                eprintln!("  {d}");
            }
            return EXIT_INVALID;
        }
    };
    let target = base.overlay(flags);
    let inputs = compare::read(from).and_then(|r| plan::Inputs::from_report(from, &r));
    let inputs = match inputs {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let p = plan::project(&inputs, &target);
    if json {
        match serde_json::to_string_pretty(&plan::to_json(from, &inputs, &target, &p)) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_RUNTIME;
            }
        }
    } else {
        print!("{}", plan::to_text(from, &inputs, &p));
    }
    EXIT_PASS
}

fn merge_cmd(out_dir: &Path, reports: &[PathBuf]) -> i32 {
    let merged = match merge::merge(reports) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_INVALID;
        }
    };
    let rep = report::build(&merged.meta, &merged.output);
    print!("{}", rep.summary);
    if let Err(e) = rep.write(&merged.meta, &merged.output, out_dir) {
        eprintln!("error: {e:#}");
        return EXIT_RUNTIME;
    }
    println!(
        "  merged {} reports: {}/report.json (report.html, summary.txt, junit.xml, *.hgrm, intervals.hlog)\n",
        reports.len(),
        out_dir.display()
    );
    if rep.pass {
        EXIT_PASS
    } else {
        EXIT_THRESHOLD
    }
}

#[allow(clippy::too_many_arguments)]
fn run_cmd(
    path: &Path,
    out: Option<PathBuf>,
    sets: &[String],
    baseline: Option<&Path>,
    raw_tol: &[String],
    raw_alpha: &str,
    instance: Option<Instance>,
    prometheus_listen: Option<&str>,
) -> i32 {
    let scn = match scenario::load(path, sets) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return EXIT_INVALID;
        }
    };
    let scn = match instance {
        None => scn,
        Some(i) => match scn.with_instance(i) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INVALID;
            }
        },
    };
    let base = match (
        baseline.map(compare::read).transpose(),
        tolerances(raw_tol),
        compare::parse_alpha(raw_alpha),
    ) {
        (Ok(b), Ok(t), Ok(a)) => b.map(|b| (b, t, a)),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    // A baseline whose embedded histograms are broken is bad input: say so before running.
    if let Some((b, tol, alpha)) = &base {
        if let Err(e) = compare::compare(b, b, tol, *alpha) {
            eprintln!("error: --baseline {e}");
            return EXIT_INVALID;
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return EXIT_RUNTIME;
        }
    };
    let listen = match prometheus_listen.map(crate::telemetry::parse_listen) {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            eprintln!("error: --prometheus-listen {e}");
            return EXIT_INVALID;
        }
    };
    let settings = match crate::telemetry::settings(&scn.export, &|k| std::env::var(k).ok(), listen)
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let run_id = crate::telemetry::new_run_id();
    let result = rt.block_on(async {
        let tel = crate::telemetry::Telemetry::start(&settings, &scn.name, run_id).await?;
        if let Some(a) = tel.prometheus_addr() {
            eprintln!("  prometheus: http://{a}/metrics");
        }
        match run::run_with(&scn, interrupted(), &tel).await {
            Ok(out) => Ok((out, tel)),
            Err(e) => {
                finish_telemetry(tel).await;
                Err(e)
            }
        }
    });
    let (output, tel) = match result {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_RUNTIME;
        }
    };
    let code = report_and_verdict(&scn, &output, out, base, baseline);
    // After the report: the Prometheus endpoint lingers, the exporters flush.
    rt.block_on(finish_telemetry(tel));
    code
}

/// Flushes and stops the telemetry; export problems never hide the run's result: they are
/// reported, not fatal.
async fn finish_telemetry(tel: crate::telemetry::Telemetry) {
    if let Err(e) = tel.shutdown().await {
        eprintln!("warning: telemetry: {e:#}");
    }
}

/// A baseline report, its tolerances and the significance level.
type Baseline = (serde_json::Value, Vec<(&'static str, f64)>, f64);

/// Writes the report (and the comparison with a baseline); returns the exit code.
fn report_and_verdict(
    scn: &scenario::model::Scenario,
    output: &run::RunOutput,
    out: Option<PathBuf>,
    base: Option<Baseline>,
    baseline: Option<&Path>,
) -> i32 {
    let meta = report::Meta::of(scn);
    let rep = report::build(&meta, output);
    print!("{}", rep.summary);
    let dir = out.unwrap_or_else(|| match scn.instance {
        Some(i) => PathBuf::from("out")
            .join(&scn.name)
            .join(format!("instance-{}", i.index)),
        None => PathBuf::from("out").join(&scn.name),
    });
    if let Err(e) = rep.write(&meta, output, &dir) {
        eprintln!("error: {e:#}");
        return EXIT_RUNTIME;
    }
    println!(
        "  report: {}/report.json (report.html, summary.txt, junit.xml, *.hgrm, intervals.hlog)\n",
        dir.display()
    );
    let mut regression = false;
    if let (Some((b, tol, alpha)), Some(bpath)) = (base, baseline) {
        let rows = match compare::compare(&b, &rep.json, &tol, alpha) {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INVALID;
            }
        };
        let md = compare::markdown(
            &rows,
            &bpath.display().to_string(),
            &dir.join("report.json").display().to_string(),
            alpha,
        );
        print!("{md}");
        if let Err(e) = std::fs::write(dir.join("comparison.md"), &md) {
            eprintln!("error: writing comparison.md: {e}");
            return EXIT_RUNTIME;
        }
        regression = rows.iter().any(|r| r.regression);
    }
    if !rep.pass {
        EXIT_THRESHOLD
    } else if regression {
        EXIT_REGRESSION
    } else {
        EXIT_PASS
    }
}
