//! Scenarios: the YAML tree with positions ([`tree`]), units, `--set` overrides, and the
//! checks that turn a tree into the validated [`model::Scenario`] the runner sees.

mod check;
mod check_authority;
mod check_workload;
pub(crate) mod ctx;
pub mod diag;
pub mod model;
pub mod overrides;
pub mod tree;
pub mod units;

use std::path::Path;

pub use diag::{Diagnostic, Invalid};
pub use model::Scenario;
use tree::{Node, Pos};

fn single(file: &str, pos: Pos, message: String) -> Invalid {
    Invalid(vec![Diagnostic {
        file: file.to_owned(),
        pos,
        path: String::new(),
        message,
    }])
}

/// Parses and checks scenario text; `file` names it in diagnostics.
pub fn parse(file: &str, text: &str, sets: &[String]) -> Result<Scenario, Invalid> {
    let mut root =
        Node::parse(text).map_err(|(pos, e)| single(file, pos, format!("not valid YAML: {e}")))?;
    let mut errors = Vec::new();
    for s in sets {
        if let Err(e) = overrides::apply(&mut root, s) {
            errors.push(Diagnostic {
                file: file.to_owned(),
                pos: Pos::Override,
                path: String::new(),
                message: e,
            });
        }
    }
    let mut cx = ctx::Ctx::new(file);
    cx.errors = errors;
    let model = check::scenario(&mut cx, &root);
    match model {
        Some(m) if cx.errors.is_empty() => Ok(m),
        _ if cx.errors.is_empty() => Err(single(file, root.pos, "invalid scenario".into())),
        _ => {
            let mut errors = cx.errors;
            errors.sort_by_key(|d| match d.pos {
                Pos::At { line, col } => (0, line, col),
                Pos::Override => (1, 0, 0),
            });
            Err(Invalid(errors))
        }
    }
}

/// Reads and checks a scenario file.
pub fn load(path: &Path, sets: &[String]) -> Result<Scenario, Invalid> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        single(
            &file,
            Pos::At { line: 0, col: 0 },
            format!("cannot read: {e}"),
        )
    })?;
    parse(&file, &text, sets)
}
