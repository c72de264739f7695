//! loadgen integration tests.
