//! The JSON format: one object per line, flat. `timestamp`, `level`, `target` and `message`
//! first, then the fields of every span the event is in (outermost first: `run_id`,
//! `probe`, then `case_id`, `sample`, `traceparent`…), then the event's own, a later key
//! replacing an earlier one. Flat, so a log pipeline filters on `run_id` or `traceparent`
//! without knowing which span set it.
//!
//! serde_json escapes quotes and C0 controls; characters it leaves raw but a terminal or a
//! log viewer would act on (C1 controls, DEL, bidi overrides and the other hidden
//! characters of `crate::inert`) are escaped too, as `\uXXXX`: the parsed value is the
//! same text, the raw line is inert.

use std::fmt;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::inert;

/// Writes events as flat JSON lines; spans' fields must be recorded by `JsonFields`.
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut own = Fields::default();
        event.record(&mut own);
        let mut line = Fields::default();
        line.put(
            "timestamp",
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.put("level", Value::String(meta.level().as_str().to_string()));
        line.put("target", Value::String(meta.target().to_string()));
        if let Some(message) = own.take("message") {
            line.put("message", message);
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(stored) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&stored.fields) {
                    for (k, v) in map {
                        line.put(&k, v);
                    }
                }
            }
        }
        for (k, v) in own.0 {
            line.put(&k, v);
        }
        writer.write_str(&line.to_json())?;
        writer.write_char('\n')
    }
}

/// A command's note (see `super::note`) as a JSON line of the same shape as events.
pub fn note_line(level: tracing::Level, text: &str) -> String {
    let mut line = Fields::default();
    line.put(
        "timestamp",
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    line.put("level", Value::String(level.as_str().to_string()));
    line.put("target", Value::String("probity::note".into()));
    line.put("message", Value::String(text.to_string()));
    format!("{}\n", line.to_json())
}

/// Keys in the order they were first put; putting a key again replaces its value.
#[derive(Default)]
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn put(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Serialising a string or a `Value` cannot fail.
            out.push_str(&serde_json::to_string(k).unwrap_or_default());
            out.push(':');
            out.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
        }
        out.push('}');
        inert_json(&out)
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field.name(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field.name(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities have no JSON number: null.
        self.put(field.name(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field.name(), Value::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field.name(), Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field.name(), Value::String(format!("{value:?}")));
    }
}

/// Serialised JSON with every character a terminal would act on written as `\uXXXX`. Such
/// characters can only be inside strings (keys or values), where the escape means the same.
fn inert_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() || inert::is_hidden(c) {
            // All of them are in the Basic Multilingual Plane: one `\uXXXX` each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_control_characters_are_escaped_and_parse_back() {
        let text = "a\u{202e}b\u{9b}31m\u{7f}\u{1b}[0m\nc\"d";
        let mut f = Fields::default();
        f.put("output", Value::String(text.into()));
        let line = f.to_json();
        assert!(
            !line.chars().any(|c| c.is_control() || inert::is_hidden(c)),
            "{line:?}"
        );
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["output"], text);
    }

    #[test]
    fn a_key_put_again_keeps_its_place_and_takes_the_new_value() {
        let mut f = Fields::default();
        f.put("a", Value::from(1));
        f.put("b", Value::from(2));
        f.put("a", Value::from(3));
        assert_eq!(f.to_json(), r#"{"a":3,"b":2}"#);
    }
}
