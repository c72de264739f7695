//! `--set path=value` overrides, applied to the YAML tree before validation, so an
//! overridden value is checked like any other. Paths: `duration`, `clock.speed`,
//! `workload[0].arrival.rate` (or `workload.0.arrival.rate`).

use super::tree::{Key, Node, Pos, Value};

enum Seg {
    Key(String),
    Index(usize),
}

fn segments(path: &str) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if !name.is_empty() {
            match name.parse::<usize>() {
                Ok(i) => out.push(Seg::Index(i)),
                Err(_) => out.push(Seg::Key(name.to_owned())),
            }
        } else if rest.is_empty() {
            return Err(format!("empty segment in path {path:?}"));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let (idx, after) = r
                .split_once(']')
                .ok_or_else(|| format!("missing ] in {path:?}"))?;
            out.push(Seg::Index(
                idx.parse()
                    .map_err(|_| format!("bad index {idx:?} in {path:?}"))?,
            ));
            rest = after;
        }
        if !rest.is_empty() {
            return Err(format!("unexpected {rest:?} in {path:?}"));
        }
    }
    Ok(out)
}

fn mark(node: &mut Node) {
    node.pos = Pos::Override;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(mark),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            k.pos = Pos::Override;
            mark(v)
        }),
        _ => {}
    }
}

/// Applies `PATH=VALUE` (VALUE is YAML: `5s`, `60`, `[a, b]`, `{ rate: 10/s }`).
pub fn apply(root: &mut Node, assignment: &str) -> Result<(), String> {
    let (path, value) = assignment
        .split_once('=')
        .ok_or_else(|| format!("--set {assignment:?}: expected PATH=VALUE"))?;
    let mut value = Node::parse(value).map_err(|(_, e)| format!("--set {path}: {e}"))?;
    mark(&mut value);
    let segs = segments(path.trim()).map_err(|e| format!("--set: {e}"))?;
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match (seg, &mut cur.value) {
            (Seg::Key(k), Value::Map(entries)) => {
                let idx = match entries.iter().position(|(key, _)| key.name == *k) {
                    Some(idx) => idx,
                    None => {
                        let empty = Node {
                            pos: Pos::Override,
                            value: Value::Map(Vec::new()),
                        };
                        entries.push((
                            Key {
                                name: k.clone(),
                                pos: Pos::Override,
                            },
                            empty,
                        ));
                        entries.len() - 1
                    }
                };
                cur = &mut entries[idx].1;
            }
            (Seg::Key(k), v @ Value::Null) => {
                let empty = Node {
                    pos: Pos::Override,
                    value: Value::Map(Vec::new()),
                };
                *v = Value::Map(vec![(
                    Key {
                        name: k.clone(),
                        pos: Pos::Override,
                    },
                    empty,
                )]);
                let Value::Map(entries) = v else {
                    unreachable!("just built")
                };
                cur = &mut entries[0].1;
            }
            (Seg::Index(n), Value::Seq(items)) if *n < items.len() => cur = &mut items[*n],
            (Seg::Index(n), _) => return Err(format!("--set {path}: no list element [{n}] there")),
            (Seg::Key(k), _) => return Err(format!("--set {path}: {k:?} is not inside a mapping")),
        }
        if last {
            *cur = value;
            return Ok(());
        }
    }
    Err(format!("--set {assignment:?}: empty path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_and_create() {
        let mut n = Node::parse("duration: 10s\nworkload:\n  - arrival: { rate: 1/s }\n").unwrap();
        apply(&mut n, "duration=2s").unwrap();
        apply(&mut n, "workload[0].arrival.rate=5/s").unwrap();
        apply(&mut n, "clock.speed=60").unwrap();
        let Value::Map(m) = &n.value else { panic!() };
        assert_eq!(m[0].1.value, Value::Str("2s".into()));
        assert_eq!(m[0].1.pos, Pos::Override);
        assert_eq!(m[2].0.name, "clock");
        assert!(apply(&mut n, "workload[3].name=x").is_err());
        assert!(apply(&mut n, "nothing").is_err());
    }
}
