//! tokencache integration tests: one binary, one module per behaviour, real servers from testkit.

mod support;
