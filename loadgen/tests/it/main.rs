//! loadgen integration tests: one binary; the CLI is run as a process (exit codes), the
//! engine in process when a test needs several runs.

mod support;

mod compare_regression;
mod compare_significance;
mod dashboards;
mod external_authority;
mod flows;
mod inspect;
mod interrupt;
mod l2_servers;
mod multi_instance;
mod otlp_receiver;
mod plan_projection;
mod quickstart_report;
mod report_html;
mod report_schema;
mod telemetry_export;
mod threshold_abort_window;
mod threshold_exit;
mod trace_context;
mod validate_scenarios;
mod virtual_time;
