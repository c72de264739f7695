//! Validation errors: each one names the file, line, column and YAML path; all of a file's
//! errors are collected and reported together.

use std::fmt;

use super::tree::Pos;

/// One problem in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub pos: Pos,
    /// The YAML path, e.g. `workload[0].arrival.rate`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            // Line 0: the file as a whole (unreadable, or a parser error without a position).
            Pos::At { line: 0, .. } => write!(f, "{}: ", self.file)?,
            Pos::At { line, col } => write!(f, "{}:{line}:{col}: ", self.file)?,
            Pos::Override => write!(f, "{} (--set): ", self.file)?,
        }
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a scenario (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<Diagnostic>);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} error{} in scenario:", if n == 1 { "" } else { "s" })?;
        for d in &self.0 {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}
