//! The `loadgen` binary: parses the command line and hands it to [`loadgen::cli`].

use clap::Parser as _;

fn main() {
    let cli = loadgen::cli::Cli::parse();
    std::process::exit(loadgen::cli::main_with(cli));
}
