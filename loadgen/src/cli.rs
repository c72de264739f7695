//! The command line (stable names, DESIGN §4): `loadgen run` and `loadgen validate`, and
//! the exit codes: 0 pass · 1 runtime error · 2 invalid input · 99 a threshold failed.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{report, run, scenario};

pub const EXIT_PASS: i32 = 0;
pub const EXIT_RUNTIME: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
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
    },
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
        Cmd::Run { scenario, out, set } => run_cmd(&scenario, out, &set),
    }
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

fn run_cmd(path: &std::path::Path, out: Option<PathBuf>, sets: &[String]) -> i32 {
    let scn = match scenario::load(path, sets) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return EXIT_INVALID;
        }
    };
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
    let result = rt.block_on(run::run(&scn, interrupted()));
    let output = match result {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_RUNTIME;
        }
    };
    let rep = report::build(&scn, &output);
    print!("{}", rep.summary);
    let dir = out.unwrap_or_else(|| PathBuf::from("out").join(&scn.name));
    if let Err(e) = rep.write(&scn, &output, &dir) {
        eprintln!("error: {e:#}");
        return EXIT_RUNTIME;
    }
    println!(
        "  report: {}/report.json (summary.txt, junit.xml, *.hgrm)\n",
        dir.display()
    );
    if rep.pass {
        EXIT_PASS
    } else {
        EXIT_THRESHOLD
    }
}
