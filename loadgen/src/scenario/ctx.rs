//! The validation context: collects diagnostics and reads typed values out of nodes,
//! reporting (not stopping at) every wrong one.

use std::time::Duration;

use tokencache::config::closest;

use super::diag::Diagnostic;
use super::tree::{Key, Node, Pos, Value};
use super::units;

/// Collects diagnostics for one file.
#[derive(Debug)]
pub struct Ctx<'f> {
    pub file: &'f str,
    pub errors: Vec<Diagnostic>,
}

/// The entries of a mapping whose keys were checked.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'n> {
    pub node: &'n Node,
    entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// `parent.key` (or `key` at the root).
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'f> Ctx<'f> {
    pub fn new(file: &'f str) -> Self {
        Ctx {
            file,
            errors: Vec::new(),
        }
    }

    pub fn err(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            file: self.file.to_owned(),
            pos,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// A mapping with only `allowed` keys; unknown keys are reported with a did-you-mean.
    pub fn map<'n>(&mut self, node: &'n Node, path: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.err(
                node.pos,
                path,
                format!("expected a mapping, found {}", node.kind()),
            );
            return None;
        };
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                let hint = closest(&k.name, allowed)
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                self.err(
                    k.pos,
                    &join(path, &k.name),
                    format!(
                        "unknown key {:?}{hint}; expected one of {}",
                        k.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(Fields { node, entries })
    }

    /// A required field.
    pub fn required<'n>(&mut self, f: &Fields<'n>, key: &str, path: &str) -> Option<&'n Node> {
        let n = f.get(key);
        if n.is_none() {
            self.err(f.node.pos, path, format!("missing required key {key:?}"));
        }
        n
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected true or false, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn uint(&mut self, node: &Node, path: &str) -> Option<u64> {
        match node.value {
            Value::Int(i) if i >= 0 => Some(i as u64),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a non-negative integer, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub fn number(&mut self, node: &Node, path: &str) -> Option<f64> {
        match node.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a number, found {}", node.kind()),
                );
                None
            }
        }
    }

    fn unit<T>(
        &mut self,
        node: &Node,
        path: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let Some(text) = node.scalar_text() else {
            self.err(
                node.pos,
                path,
                format!("expected a scalar, found {}", node.kind()),
            );
            return None;
        };
        match parse(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(node.pos, path, e);
                None
            }
        }
    }

    pub fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        self.unit(node, path, units::duration)
    }

    pub fn size(&mut self, node: &Node, path: &str) -> Option<u64> {
        self.unit(node, path, units::size)
    }

    pub fn rate(&mut self, node: &Node, path: &str) -> Option<f64> {
        self.unit(node, path, units::rate)
    }

    /// One of `names`, with a did-you-mean.
    pub fn choice(&mut self, node: &Node, path: &str, names: &[&str]) -> Option<String> {
        let s = self.string(node, path)?;
        if names.contains(&s.as_str()) {
            return Some(s);
        }
        let hint = closest(&s, names)
            .map(|c| format!(" (did you mean {c:?}?)"))
            .unwrap_or_default();
        self.err(
            node.pos,
            path,
            format!(
                "unknown value {s:?}{hint}; expected one of {}",
                names.join(", ")
            ),
        );
        None
    }

    /// Optional field read with `read`.
    pub fn opt<'n, T>(
        &mut self,
        f: &Fields<'n>,
        key: &str,
        parent: &str,
        read: impl FnOnce(&mut Self, &'n Node, &str) -> Option<T>,
    ) -> Option<T> {
        let node = f.get(key)?;
        read(self, node, &join(parent, key))
    }

    /// Required field read with `read`.
    pub fn req<'n, T>(
        &mut self,
        f: &Fields<'n>,
        key: &str,
        parent: &str,
        read: impl FnOnce(&mut Self, &'n Node, &str) -> Option<T>,
    ) -> Option<T> {
        let node = self.required(f, key, parent)?;
        read(self, node, &join(parent, key))
    }
}
