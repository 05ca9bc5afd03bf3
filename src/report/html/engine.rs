//! The Handlebars engine of the HTML reports: the embedded templates, the project's
//! overrides, strict mode, and the one escape function every value goes through.

use handlebars::Handlebars;
use serde::Serialize;

use super::{HtmlError, Options};
use crate::inert::{escaped, is_hidden};

/// The embedded templates, by the file name that overrides each.
const TEMPLATES: [(&str, &str); 3] = [
    ("run.hbs", include_str!("templates/run.hbs")),
    ("history.hbs", include_str!("templates/history.hbs")),
    ("style.hbs", include_str!("templates/style.hbs")),
];

/// The templates a report renders with.
pub struct Engine {
    hb: Handlebars<'static>,
}

impl Engine {
    /// The embedded templates, each replaced by `<options.templates>/<name>` when that
    /// file exists.
    pub fn new(options: &Options) -> Result<Engine, HtmlError> {
        let mut hb = Handlebars::new();
        // A misspelt field in an override fails loudly instead of rendering nothing.
        hb.set_strict_mode(true);
        hb.register_escape_fn(escape_html);
        for (name, embedded) in TEMPLATES {
            let overriding = options.templates.as_deref().map(|d| d.join(name));
            let (origin, text) = match overriding.filter(|p| p.is_file()) {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|source| HtmlError::Io {
                        path: crate::config::display_path(&path),
                        source,
                    })?;
                    (crate::config::display_path(&path), text)
                }
                None => (format!("(embedded) {name}"), embedded.to_string()),
            };
            // Partials are referred to without the extension: `{{> style}}`.
            let key = name.trim_end_matches(".hbs");
            hb.register_template_string(key, text)
                .map_err(|e| HtmlError::Template {
                    path: origin,
                    detail: e.to_string(),
                })?;
        }
        Ok(Engine { hb })
    }

    pub fn render(&self, name: &str, data: &impl Serialize) -> Result<String, HtmlError> {
        self.hb
            .render(name.trim_end_matches(".hbs"), data)
            .map_err(|e| HtmlError::Render {
                template: name.to_string(),
                detail: e.to_string(),
            })
    }
}

/// The escape of every value a template shows: HTML's metacharacters (quotes and `=` and
/// the backtick too, so a value in an unquoted attribute cannot end it), and characters
/// that are invisible or reorder text (bidi overrides, zero-width ones, C0/C1 controls
/// other than newline and tab) written as visible `\u{..}` text.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '`' => out.push_str("&#x60;"),
            '=' => out.push_str("&#x3D;"),
            '\n' | '\t' => out.push(c),
            c if is_hidden(c) || c.is_control() => out.push_str(&escaped(c)),
            c => out.push(c),
        }
    }
    out
}

/// The embedded template `name`, for tests and for people starting an override.
pub fn embedded(name: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
