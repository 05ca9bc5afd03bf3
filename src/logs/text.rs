//! The text format's fields: `name=value`, the message bare, every value made inert for a
//! terminal. Untrusted text (an error body, a case id, a model's output with
//! `--log-content`) could otherwise move the cursor, recolour the screen (ANSI escapes),
//! forge a line of its own (a newline) or read other than it is (bidi overrides): control
//! characters are written as escapes (`\n`, `\u{1b}`), hidden ones as `crate::inert` does,
//! and a value with a space, quote or `=` is quoted so the next field cannot be forged.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::inert;

/// Formats events' and spans' fields for the text format.
pub struct InertFields;

impl<'w> FormatFields<'w> for InertFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Visitor { out: String::new() };
        fields.record(&mut visitor);
        writer.write_str(&visitor.out)
    }
}

struct Visitor {
    out: String,
}

impl Visitor {
    fn separate(&mut self) {
        if !self.out.is_empty() {
            self.out.push(' ');
        }
    }

    fn pair(&mut self, name: &str, value: &str) {
        self.separate();
        self.out.push_str(name);
        self.out.push('=');
        self.out.push_str(&value_text(value));
    }
}

impl Visit for Visitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.separate();
            self.out.push_str(&escape(value, false));
        } else {
            self.pair(field.name(), value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_str(field, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` fields and the message arrive here, already as their Display text.
        self.record_str(field, &format!("{value:?}"));
    }
}

/// A field's value: bare when it is one plain word, quoted otherwise.
pub fn value_text(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c == '\\' || needs_escape(c));
    if plain {
        value.to_string()
    } else {
        format!("\"{}\"", escape(value, true))
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || inert::is_hidden(c)
}

/// `text` with control and hidden characters escaped (and, inside quotes, `"` and `\`).
pub fn escape(text: &str, quoted: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' | '\\' if quoted => {
                out.push('\\');
                out.push(c);
            }
            c if needs_escape(c) => out.push_str(&inert::escaped(c)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_stay_on_their_line_and_in_their_field() {
        assert_eq!(value_text("plain-id_1"), "plain-id_1");
        assert_eq!(value_text(""), "\"\"");
        assert_eq!(
            value_text("a b\nerror_class=forged"),
            "\"a b\\nerror_class=forged\""
        );
        assert_eq!(value_text("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(value_text("\u{1b}[31mred"), "\"\\u{1b}[31mred\"");
        assert_eq!(value_text("abc\u{202e}def"), "\"abc\\u{202e}def\"");
        assert_eq!(
            escape("line\u{2028}two\u{9b}", false),
            "line\\u{2028}two\\u{9b}"
        );
    }
}
