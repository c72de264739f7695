//! A YAML document as a tree of nodes that remember where they came from (line, column),
//! parsed with serde-saphyr's `Spanned`; validation walks it and reports every error at once.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node is: a line and column in the file, or a `--set` override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    At { line: u64, col: u64 },
    Override,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key and its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

/// A value and its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

fn pos_of<T>(s: &Spanned<T>) -> Pos {
    Pos::At {
        line: s.referenced.line(),
        col: s.referenced.column(),
    }
}

impl From<Spanned<Value>> for Node {
    fn from(s: Spanned<Value>) -> Self {
        Node {
            pos: pos_of(&s),
            value: s.value,
        }
    }
}

impl Node {
    /// Parses a whole document. An empty document is `Null`. A syntax error comes with
    /// its position when the parser knows it.
    pub fn parse(text: &str) -> Result<Node, (Pos, String)> {
        if text.trim().is_empty() {
            return Ok(Node {
                pos: Pos::At { line: 1, col: 1 },
                value: Value::Null,
            });
        }
        serde_saphyr::from_str::<Spanned<Value>>(text)
            .map(Node::from)
            .map_err(|e| {
                let pos = e
                    .location()
                    .map_or(Pos::At { line: 0, col: 0 }, |l| Pos::At {
                        line: l.line(),
                        col: l.column(),
                    });
                let text = e.to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                // Drop the parser's own "line N column M: " prefix: the position is in `pos`.
                let msg = match first.split_once(": ") {
                    Some((head, rest)) if head.starts_with("line ") => rest,
                    _ => first,
                };
                (pos, msg.to_owned())
            })
    }

    /// A short name of the node's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar as text (numbers and booleans included), for unit parsing.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            out.push(Node::from(item));
        }
        Ok(Value::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Value>>()? {
            let pos = pos_of(&k);
            let name = Node::from(k).scalar_text().unwrap_or_default();
            let v: Spanned<Value> = map.next_value()?;
            out.push((Key { name, pos }, Node::from(v)));
        }
        Ok(Value::Map(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_line_and_column() {
        let n = Node::parse("a: 1\nb:\n  c: [x, 2.5]\n").unwrap();
        let Value::Map(m) = &n.value else { panic!() };
        assert_eq!(m[0].0.name, "a");
        assert_eq!(m[0].0.pos, Pos::At { line: 1, col: 1 });
        let Value::Map(inner) = &m[1].1.value else {
            panic!()
        };
        assert_eq!(inner[0].0.pos, Pos::At { line: 3, col: 3 });
        let Value::Seq(s) = &inner[0].1.value else {
            panic!()
        };
        assert_eq!(s[1].value, Value::Float(2.5));
        assert_eq!(s[0].pos, Pos::At { line: 3, col: 7 });
    }
}
