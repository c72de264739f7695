//! `loadgen/report.schema.json` (JSON Schema 2020-12) describes report.json; every report a
//! test produces is validated against it. The validator here implements exactly the
//! keywords the schema uses, and a test checks the schema uses no other.

use serde_json::Value;

use super::support::repo;

const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "$defs",
    "$ref",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "enum",
    "minimum",
    "maximum",
];

pub fn schema() -> Value {
    let text =
        std::fs::read_to_string(repo().join("loadgen/report.schema.json")).expect("schema file");
    serde_json::from_str(&text).expect("schema is JSON")
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_u64() || v.is_i64(),
        _ => false,
    }
}

fn check(root: &Value, s: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = root
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("bad $ref {r}"));
        return check(root, target, v, path, errors);
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)),
            _ => false,
        };
        if !ok {
            errors.push(format!("{path}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errors.push(format!("{path}: {v} not in {e:?}"));
        }
    }
    if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < min {
            errors.push(format!("{path}: {x} < {min}"));
        }
    }
    if let (Some(max), Some(x)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64()) {
        if x > max {
            errors.push(format!("{path}: {x} > {max}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = r.as_str().unwrap_or("");
            if !obj.contains_key(k) {
                errors.push(format!("{path}: missing {k:?}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            let sub = format!("{path}.{k}");
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(ps), _) => check(root, ps, x, &sub, errors),
                (None, Some(Value::Bool(false))) => errors.push(format!("{sub}: not allowed")),
                (None, Some(extra @ Value::Object(_))) => check(root, extra, x, &sub, errors),
                _ => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(root, items, x, &format!("{path}[{i}]"), errors);
        }
    }
}

/// Panics with every violation of the schema in `report`.
pub fn validate(report: &Value) {
    let s = schema();
    let mut errors = Vec::new();
    check(&s, &s, report, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "report.json does not match its schema:\n{}",
        errors.join("\n")
    );
}

fn keywords_used(s: &Value, out: &mut Vec<String>) {
    if let Some(o) = s.as_object() {
        for (k, v) in o {
            out.push(k.clone());
            match k.as_str() {
                "properties" | "$defs" => v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .for_each(|(_, x)| keywords_used(x, out)),
                "items" | "additionalProperties" => keywords_used(v, out),
                _ => {}
            }
        }
    }
}

#[test]
fn the_schema_uses_only_keywords_this_validator_implements() {
    let mut used = Vec::new();
    keywords_used(&schema(), &mut used);
    for k in used {
        assert!(KEYWORDS.contains(&k.as_str()), "unsupported keyword {k}");
    }
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let mut bad = serde_json::json!({"schema_version": 2, "verdict": "maybe"});
    let s = schema();
    let mut errors = Vec::new();
    check(&s, &s, &bad, "$", &mut errors);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("missing \"acquisitions\"")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("$.verdict")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("$.schema_version")),
        "{errors:?}"
    );
    bad["token_source"] =
        serde_json::json!({"cache": 1, "identity_provider": 0, "cache_ratio": 1.5});
    errors.clear();
    check(&s, &s, &bad, "$", &mut errors);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("$.token_source.cache_ratio: 1.5 > 1")),
        "{errors:?}"
    );
}
