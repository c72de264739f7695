//! loadgen: reads a scenario, drives the token cache against the (embedded) mock authority,
//! measures every acquisition with HdrHistograms and writes a report with a verdict.

pub mod cli;
pub mod compare;
pub mod inspect;
pub mod merge;
pub mod plan;
pub mod report;
pub mod run;
pub mod scenario;
pub mod telemetry;
pub mod thresholds;
pub mod utest;
