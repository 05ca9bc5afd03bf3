//! Minimal JSON instances of a JSON Schema: what a well-behaved model answers to a
//! `json_schema` case. Required properties only, type-correct values that respect the
//! usual bounds (lengths, ranges, item counts), `enum` / `const` honoured, local `$ref`s
//! followed. Best effort: the caller checks the result against the compiled schema.

use serde_json::{Map, Value, json};

/// Deeper than any sane schema; stops a recursive `$ref` from looping.
const MAX_DEPTH: usize = 32;
/// Most items or characters an instance gets, whatever the schema asks.
const MAX_LEN: u64 = 10_000;

/// A minimal instance of `schema`.
pub(crate) fn minimal_instance(schema: &Value) -> Value {
    instance(schema, schema, 0, None)
}

fn instance(root: &Value, schema: &Value, depth: usize, name: Option<&str>) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    let Some(obj) = schema.as_object() else {
        // `true` (or an unknown form) accepts anything.
        return placeholder(name);
    };
    if let Some(v) = obj.get("const") {
        return v.clone();
    }
    if let Some(first) = obj
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return first.clone();
    }
    if let Some(target) = obj
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve(root, r))
    {
        return instance(root, target, depth + 1, name);
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        let merged = merge_all_of(root, schema, all);
        return instance(root, &merged, depth + 1, name);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(first) = obj
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return instance(root, first, depth + 1, name);
        }
    }
    match schema_type(obj) {
        Some("object") => object(root, obj, depth),
        Some("array") => array(root, obj, depth),
        Some("string") => string(obj, name),
        Some("integer") => Value::from(integer(obj)),
        Some("number") => number(obj),
        Some("boolean") => Value::Bool(false),
        Some("null") => Value::Null,
        _ => placeholder(name),
    }
}

/// The schema's type: the first listed (a list like `[string, null]` takes the real one
/// first), or inferred from the keywords it uses.
fn schema_type(obj: &Map<String, Value>) -> Option<&str> {
    match obj.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => {
            let all: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            all.iter()
                .copied()
                .find(|t| *t != "null")
                .or(all.first().copied())
        }
        _ if obj.contains_key("properties") || obj.contains_key("required") => Some("object"),
        _ if obj.contains_key("items") || obj.contains_key("prefixItems") => Some("array"),
        _ => None,
    }
}

/// A value for a property the schema says nothing about: a plausible string.
fn placeholder(name: Option<&str>) -> Value {
    match name {
        Some(n) if n == "id" || n.ends_with("_id") => Value::from(1234),
        Some(n) => Value::from(format!("example {n}")),
        None => Value::from("example"),
    }
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    // Local references only: the golden set's schema has no remote refs (validated).
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

/// `allOf` as one schema: properties and required lists united, the first type kept.
fn merge_all_of(root: &Value, schema: &Value, all: &[Value]) -> Value {
    let mut merged = Map::new();
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    let parts = std::iter::once(schema).chain(all.iter());
    for part in parts {
        let part = match part.get("$ref").and_then(Value::as_str) {
            Some(r) => resolve(root, r).unwrap_or(part),
            None => part,
        };
        let Some(obj) = part.as_object() else {
            continue;
        };
        for (k, v) in obj {
            match k.as_str() {
                "allOf" | "$ref" => {}
                "properties" => {
                    if let Some(p) = v.as_object() {
                        for (pk, pv) in p {
                            properties.entry(pk.clone()).or_insert_with(|| pv.clone());
                        }
                    }
                }
                "required" => {
                    for r in v.as_array().into_iter().flatten() {
                        if !required.contains(r) {
                            required.push(r.clone());
                        }
                    }
                }
                _ => {
                    merged.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    if !properties.is_empty() {
        merged.insert("properties".into(), Value::Object(properties));
    }
    if !required.is_empty() {
        merged.insert("required".into(), Value::Array(required));
    }
    Value::Object(merged)
}

fn object(root: &Value, obj: &Map<String, Value>, depth: usize) -> Value {
    let empty = Map::new();
    let properties = obj
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut out = Map::new();
    for name in obj
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = name.as_str() {
            let sub = properties.get(name).cloned().unwrap_or(Value::Bool(true));
            out.insert(
                name.to_string(),
                instance(root, &sub, depth + 1, Some(name)),
            );
        }
    }
    // minProperties beyond the required ones: take declared properties in order.
    let min = obj
        .get("minProperties")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    for (name, sub) in properties {
        if out.len() >= min {
            break;
        }
        if !out.contains_key(name) {
            out.insert(name.clone(), instance(root, sub, depth + 1, Some(name)));
        }
    }
    Value::Object(out)
}

fn array(root: &Value, obj: &Map<String, Value>, depth: usize) -> Value {
    // Capped: a schema asking for millions of items would only eat memory at start-up (the
    // instance then fails validation, which start-up reports).
    let min = obj
        .get("minItems")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(MAX_LEN) as usize;
    let mut out: Vec<Value> = Vec::new();
    if let Some(prefix) = obj.get("prefixItems").and_then(Value::as_array) {
        for sub in prefix.iter().take(min.max(prefix.len())) {
            out.push(instance(root, sub, depth + 1, None));
        }
    }
    let items = obj.get("items").cloned().unwrap_or(Value::Bool(true));
    while out.len() < min {
        let mut item = instance(root, &items, depth + 1, None);
        // uniqueItems: vary plain values so the copies differ.
        if out.contains(&item) {
            item = vary(&item, out.len());
        }
        out.push(item);
    }
    Value::Array(out)
}

fn vary(v: &Value, n: usize) -> Value {
    match v {
        Value::String(s) => Value::from(format!("{s} {n}")),
        Value::Number(x) => x
            .as_i64()
            .map(|i| Value::from(i.saturating_add(n as i64)))
            .unwrap_or_else(|| Value::from(x.as_f64().unwrap_or(0.0) + n as f64)),
        other => other.clone(),
    }
}

fn string(obj: &Map<String, Value>, name: Option<&str>) -> Value {
    let format = obj.get("format").and_then(Value::as_str);
    let mut s = match format {
        Some("date-time") => "2024-01-01T00:00:00Z".to_string(),
        Some("date") => "2024-01-01".to_string(),
        Some("time") => "00:00:00Z".to_string(),
        Some("email") => "user@example.com".to_string(),
        Some("uri" | "url" | "iri") => "https://example.com".to_string(),
        Some("uuid") => "00000000-0000-4000-8000-000000000000".to_string(),
        Some("ipv4") => "192.0.2.1".to_string(),
        Some("ipv6") => "2001:db8::1".to_string(),
        Some("hostname") => "example.com".to_string(),
        _ => match name {
            Some(n) => format!("example {n}"),
            None => "example".to_string(),
        },
    };
    if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
        if let Some(found) = pattern_candidate(pattern, &s) {
            s = found;
        }
    }
    let min = obj
        .get("minLength")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(MAX_LEN) as usize;
    let max = obj
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    let len = s.chars().count();
    if len < min {
        s.extend(std::iter::repeat_n('x', min - len));
    }
    if let Some(max) = max {
        if s.chars().count() > max {
            s = s.chars().take(max).collect();
        }
    }
    Value::String(s)
}

/// A string matching `pattern`, among a few likely shapes (no generator for arbitrary
/// regexes; the validation at start-up reports a miss).
fn pattern_candidate(pattern: &str, preferred: &str) -> Option<String> {
    let re = regex::Regex::new(pattern).ok()?;
    [
        preferred,
        "example",
        "a",
        "A",
        "0",
        "1",
        "abc",
        "ABC",
        "a1",
        "A1",
        "2024-01-01",
        "user@example.com",
        "https://example.com",
        "+1 555 0100",
        "ORD-1234",
        "",
    ]
    .into_iter()
    .find(|c| re.is_match(c))
    .map(str::to_string)
}

fn integer(obj: &Map<String, Value>) -> i64 {
    let get = |k: &str| obj.get(k).and_then(Value::as_f64);
    let mut v: i64 = 0;
    if let Some(min) = get("minimum") {
        v = v.max(min.ceil() as i64);
    }
    if let Some(min) = get("exclusiveMinimum") {
        v = v.max((min.floor() as i64).saturating_add(1));
    }
    if let Some(max) = get("maximum") {
        v = v.min(max.floor() as i64);
    }
    if let Some(max) = get("exclusiveMaximum") {
        v = v.min((max.ceil() as i64).saturating_sub(1));
    }
    if let Some(step) = get("multipleOf").filter(|s| *s >= 1.0) {
        let step = step as i64;
        if step > 0 && v % step != 0 {
            v = v.saturating_add(step - v.rem_euclid(step));
        }
    }
    v
}

fn number(obj: &Map<String, Value>) -> Value {
    let get = |k: &str| obj.get(k).and_then(Value::as_f64);
    let mut v = 0.0_f64;
    if let Some(min) = get("minimum") {
        v = v.max(min);
    }
    if let Some(min) = get("exclusiveMinimum") {
        if v <= min {
            v = min + 1.0;
        }
    }
    if let Some(max) = get("maximum") {
        v = v.min(max);
    }
    if let Some(max) = get("exclusiveMaximum") {
        if v >= max {
            v = max - (max - get("minimum").unwrap_or(max - 1.0)).abs() / 2.0;
        }
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return json!(v as i64);
    }
    json!(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(schema: Value) -> Value {
        let instance = minimal_instance(&schema);
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&instance), "{instance} for {schema}");
        instance
    }

    #[test]
    fn object_with_required_properties() {
        let v = valid(json!({
            "type": "object",
            "required": ["id", "status", "items"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "status": {"enum": ["open", "closed"]},
                "items": {"type": "array", "minItems": 2, "uniqueItems": true,
                          "items": {"type": "string", "minLength": 3}},
                "note": {"type": "string"}
            },
            "additionalProperties": false
        }));
        assert_eq!(v["status"], "open");
        assert_eq!(v["id"], 1);
        assert!(v.get("note").is_none());
    }

    #[test]
    fn required_without_properties() {
        let v = valid(json!({"type": "object", "required": ["id", "status"]}));
        assert!(v.get("id").is_some() && v.get("status").is_some());
    }

    #[test]
    fn refs_all_of_any_of_and_formats() {
        valid(json!({
            "$defs": {"addr": {"type": "object", "required": ["city"],
                      "properties": {"city": {"type": "string", "maxLength": 4}}}},
            "allOf": [
                {"type": "object", "required": ["a"], "properties": {"a": {"$ref": "#/$defs/addr"}}},
                {"required": ["b"], "properties": {"b": {"anyOf": [{"type": "number", "exclusiveMinimum": 2.5}, {"type": "null"}]}}}
            ],
            "required": ["when", "code"],
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "code": {"type": "string", "pattern": "^[A-Z]+-[0-9]+$"}
            }
        }));
        valid(json!({"type": ["null", "integer"], "multipleOf": 5, "minimum": 3}));
        valid(json!({"type": "number", "minimum": 0.5, "maximum": 0.7}));
    }

    #[test]
    fn recursive_ref_terminates() {
        let schema = json!({"$ref": "#"});
        assert_eq!(minimal_instance(&schema), Value::Null);
    }
}
