//! mock-authority integration tests: one binary, one module per behaviour.

mod bad_input;
mod binary;
mod client_assertion;
mod faults;
mod http;
mod msal_node;
mod msal_python;
mod otlp;
mod protocol;
mod real_clients;
mod support;
mod user_flows;
