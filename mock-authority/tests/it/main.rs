//! mock-authority integration tests: one binary, one module per behaviour.

mod client_assertion;
mod protocol;
mod support;
