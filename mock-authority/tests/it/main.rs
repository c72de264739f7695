//! mock-authority integration tests: one binary, one module per behaviour.

mod bad_input;
mod client_assertion;
mod faults;
mod http;
mod protocol;
mod support;
