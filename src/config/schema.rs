//! Structural checks from the raw structs themselves: a JSON Schema is derived from each raw
//! config type (`schemars`, so `deny_unknown_fields` and doc comments carry over), and a file
//! is validated against it with `jsonschema`, which reports *every* unknown key, wrong type
//! and missing key at once. Each error becomes a `Diagnostic` in plain words, with a "did you
//! mean" for typos and the field's own doc comment as the hint.

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::diagnostic::Diagnostic;
use super::document::Document;
use super::locate::escape;
use super::suggest;

/// The schema of one raw config type, compiled once.
pub struct SchemaCheck {
    schema: Value,
    validator: Validator,
}

impl SchemaCheck {
    /// Derives and compiles the schema of `T`. Panics only on a bug in our own types.
    pub fn of<T: JsonSchema>() -> SchemaCheck {
        let generator = SchemaSettings::draft2020_12()
            .with(|s| s.inline_subschemas = true)
            .into_generator();
        let mut schema = generator.into_root_schema_for::<T>().to_value();
        bound_unsigned(&mut schema);
        #[allow(clippy::expect_used)]
        let validator = jsonschema::draft202012::new(&schema)
            .expect("the schema derived from a config struct compiles");
        SchemaCheck { schema, validator }
    }

    /// Every structural problem of `value`, which sits at `base` (a JSON pointer) in `doc`.
    pub fn check(&self, doc: &Document, base: &str, value: &Value) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for error in self.validator.iter_errors(value) {
            self.describe(doc, base, &error, &mut out);
        }
        out
    }

    fn describe(
        &self,
        doc: &Document,
        base: &str,
        error: &ValidationError<'_>,
        out: &mut Vec<Diagnostic>,
    ) {
        let at = error.instance_path().as_str().to_string();
        let pointer = format!("{base}{at}");
        let instance: &Value = error.instance();
        let nodes = subschemas_at(&self.schema, &at);
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let known = property_names(&nodes);
                for key in unexpected {
                    let d = doc.key_error(
                        &format!("{pointer}/{}", escape(key)),
                        format!("unknown key `{key}`"),
                    );
                    out.push(d.with_hint(suggest::hint(key, &known)));
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let mut d = doc.error(&pointer, format!("missing required key `{name}`"));
                let child = format!("{at}/{}", escape(name));
                if let Some(help) = description(&subschemas_at(&self.schema, &child)) {
                    d = d.with_hint(format!("`{name}`: {help}"));
                }
                out.push(d);
            }
            ValidationErrorKind::Type { .. } => {
                let mut d = doc.error(
                    &pointer,
                    format!("expected {}, found {}", expected(&nodes), found(instance)),
                );
                if let Some(help) = description(&nodes) {
                    d = d.with_hint(help);
                }
                out.push(d);
            }
            ValidationErrorKind::Enum { options } => {
                let options: Vec<&str> = options
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let shown = instance
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| instance.to_string());
                out.push(
                    doc.error(
                        &pointer,
                        format!("`{shown}` is not one of: {}", options.join(", ")),
                    )
                    .with_hint(suggest::hint(&shown, &options)),
                );
            }
            ValidationErrorKind::Minimum { limit }
            | ValidationErrorKind::ExclusiveMinimum { limit } => {
                out.push(doc.error(
                    &pointer,
                    format!("must be at least {limit}, found {instance}"),
                ));
            }
            ValidationErrorKind::Maximum { limit }
            | ValidationErrorKind::ExclusiveMaximum { limit } => {
                out.push(doc.error(
                    &pointer,
                    format!("must be at most {limit}, found {instance}"),
                ));
            }
            ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. }
                if instance.is_string() && !constants(&nodes).is_empty() =>
            {
                // An enum whose variants carry doc comments is a oneOf of constants: say
                // which values are allowed, as for a plain enum.
                let options = constants(&nodes);
                let shown = instance.as_str().unwrap_or_default();
                out.push(
                    doc.error(
                        &pointer,
                        format!("`{shown}` is not one of: {}", options.join(", ")),
                    )
                    .with_hint(suggest::hint(shown, &options)),
                );
            }
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                // Keep the branches the value could have meant: those that do not reject
                // its very type (or a discriminating constant such as `type: slack`).
                let plausible: Vec<_> = context
                    .iter()
                    .filter(|branch| !branch.iter().any(|e| rejects_shape(e, &at)))
                    .collect();
                if let [branch] = plausible.as_slice() {
                    for e in branch.iter() {
                        self.describe(doc, base, e, out);
                    }
                } else {
                    let mut d = doc.error(
                        &pointer,
                        format!("expected {}, found {}", expected(&nodes), found(instance)),
                    );
                    if let Some(help) = description(&nodes) {
                        d = d.with_hint(help);
                    }
                    out.push(d);
                }
            }
            _ => out.push(doc.error(&pointer, error.to_string())),
        }
    }
}

/// The allowed strings when the schema at a node is only a choice of constants (a
/// oneOf of `const`, as schemars writes an enum with documented variants); empty when any
/// other string would do.
fn constants<'a>(nodes: &[&'a Value]) -> Vec<&'a str> {
    let mut options = Vec::new();
    for node in nodes {
        if let Some(c) = node.get("const") {
            match c.as_str() {
                Some(c) => options.push(c),
                None => return Vec::new(),
            }
        } else if let Some(values) = node.get("enum").and_then(Value::as_array) {
            options.extend(values.iter().filter_map(Value::as_str));
        } else if node.get("type").is_some_and(|t| t == "string") {
            return Vec::new();
        }
    }
    options
}

/// schemars marks `u32` fields `format: uint32` with only a minimum; the largest value is
/// added, so `retention_days: 4000000000` is "must be at most …" at its line instead of a
/// deserialisation error at the top of the file.
fn bound_unsigned(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let max = match map.get("format").and_then(Value::as_str) {
                Some("uint8") => Some(Value::from(u8::MAX)),
                Some("uint16") => Some(Value::from(u16::MAX)),
                Some("uint32") => Some(Value::from(u32::MAX)),
                Some("uint64" | "uint") => Some(Value::from(u64::MAX)),
                _ => None,
            };
            if let Some(max) = max {
                map.entry("maximum").or_insert(max);
            }
            map.values_mut().for_each(bound_unsigned);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_unsigned),
        _ => {}
    }
}

/// An error saying the value is not of the branch's shape at all (so the branch is moot).
/// `at` is where the anyOf / oneOf sits: a type error there (not deeper) rejects the
/// branch, also for a union nested in the document (`report.email`: a list or a mapping).
fn rejects_shape(error: &ValidationError<'_>, at: &str) -> bool {
    match error.kind() {
        ValidationErrorKind::Type { .. } => {
            let path = error.instance_path().as_str();
            path.is_empty() || path == at
        }
        ValidationErrorKind::Constant { .. } | ValidationErrorKind::Enum { .. } => {
            // `type: slack` against the `pagerduty` branch of a tagged enum.
            error.instance_path().as_str().matches('/').count() <= 1
        }
        _ => false,
    }
}

/// The schema nodes that apply at an instance pointer (following properties, items and the
/// branches of anyOf / oneOf / allOf).
fn subschemas_at<'a>(schema: &'a Value, pointer: &str) -> Vec<&'a Value> {
    let mut nodes = expand(schema);
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        let mut next = Vec::new();
        for node in nodes {
            let child = node
                .get("properties")
                .and_then(|p| p.get(&segment))
                .or_else(|| {
                    segment
                        .parse::<usize>()
                        .ok()
                        .and_then(|_| node.get("items"))
                })
                .or_else(|| node.get("additionalProperties").filter(|v| v.is_object()));
            if let Some(child) = child {
                next.extend(expand(child));
            }
        }
        nodes = next;
    }
    nodes
}

fn expand(node: &Value) -> Vec<&Value> {
    let mut out = vec![node];
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = node.get(key).and_then(Value::as_array) {
            out.extend(branches.iter().flat_map(expand));
        }
    }
    out
}

fn property_names<'a>(nodes: &[&'a Value]) -> Vec<&'a str> {
    let mut names: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn description(nodes: &[&Value]) -> Option<String> {
    nodes
        .iter()
        .find_map(|n| n.get("description").and_then(Value::as_str))
        .map(|d| d.split("\n\n").next().unwrap_or(d).replace('\n', " "))
}

/// "a number", "a string or a list", ... from the `type` / `enum` keywords that apply.
fn expected(nodes: &[&Value]) -> String {
    let mut kinds: Vec<&str> = Vec::new();
    for node in nodes {
        match node.get("type") {
            Some(Value::String(t)) => kinds.push(t),
            Some(Value::Array(ts)) => kinds.extend(ts.iter().filter_map(Value::as_str)),
            _ => {}
        }
        if node.get("enum").is_some() || node.get("const").is_some() {
            kinds.push("string");
        }
    }
    kinds.retain(|k| *k != "null");
    if kinds.contains(&"number") {
        kinds.retain(|k| *k != "integer");
    }
    let mut phrases: Vec<&str> = kinds.into_iter().map(type_phrase).collect();
    phrases.dedup();
    let mut seen = Vec::new();
    phrases.retain(|p| {
        let fresh = !seen.contains(p);
        seen.push(p);
        fresh
    });
    match phrases.as_slice() {
        [] => "another kind of value".to_string(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn type_phrase(kind: &str) -> &'static str {
    match kind {
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "a mapping",
        _ => "a value",
    }
}

/// How a value looks, quoting short scalars.
pub fn found(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("the string \"{s}\""),
        Value::String(_) => "a long string".to_string(),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}
