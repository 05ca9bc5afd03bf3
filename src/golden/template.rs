//! Handlebars templating in strict mode: an undefined variable is an error, never an empty
//! string, and nothing is HTML-escaped (prompts are not HTML). Golden cases are rendered
//! once at load; the `http` provider renders its body per request.

use handlebars::Handlebars;
use serde::Serialize;

/// A strict, non-escaping renderer with a `json` helper (`{{json value}}` writes JSON).
#[derive(Debug, Clone)]
pub struct Renderer {
    registry: Handlebars<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.register_helper("json", Box::new(json_helper));
        Renderer { registry }
    }
}

fn json_helper(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let value = h
        .param(0)
        .ok_or_else(|| handlebars::RenderErrorReason::ParamNotFoundForIndex("json", 0))?;
    // Strict mode does not cover helper arguments: without this, `{{json typo}}` is `null`.
    if value.is_value_missing() {
        let name = value.relative_path().cloned().unwrap_or_default();
        return Err(handlebars::RenderErrorReason::MissingVariable(Some(name)).into());
    }
    let text = serde_json::to_string(value.value())
        .map_err(|e| handlebars::RenderErrorReason::Other(e.to_string()))?;
    out.write(&text)?;
    Ok(())
}

/// Why a template did not render, in one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

impl Renderer {
    /// Renders `template` against `data`; a variable `data` lacks is an error naming it.
    pub fn render<T: Serialize>(&self, template: &str, data: &T) -> Result<String, TemplateError> {
        self.registry
            .render_template(template, data)
            .map_err(|e| TemplateError(describe(&e)))
    }
}

fn describe(error: &handlebars::RenderError) -> String {
    match error.reason() {
        handlebars::RenderErrorReason::MissingVariable(Some(name)) => {
            format!("undefined template variable `{name}`")
        }
        handlebars::RenderErrorReason::TemplateError(t) => {
            format!("template syntax: {}", t.reason())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_and_rejects_undefined_variables() {
        let r = Renderer::default();
        let data = json!({"company": "Acme & Co", "n": [1, 2]});
        assert_eq!(r.render("Hi {{company}}", &data).unwrap(), "Hi Acme & Co");
        assert_eq!(r.render("{{json n}}", &data).unwrap(), "[1,2]");
        assert_eq!(
            r.render("Hi {{plan}}", &data).unwrap_err().0,
            "undefined template variable `plan`"
        );
        assert_eq!(
            r.render("{{json vars.typo}}", &data).unwrap_err().0,
            "undefined template variable `vars.typo`"
        );
    }
}
