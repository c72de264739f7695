//! loadgen: scenario runner.
