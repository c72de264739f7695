//! loadgen binary.
fn main() {}
