//! Loading a golden-set file: structure checked against the raw structs' schema, then each
//! case validated — unique ids, roles, templates rendered in strict mode (an undefined
//! variable is an error here, not an empty string at run time), expectations compiled
//! (regexes built, JSON Schemas checked against the 2020-12 meta-schema).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::expect::{
    DEFAULT_MIN_COSINE, DEFAULT_MIN_SUPPORT, Expect, Grounded, RawExpect, RawTone, Schema, Similar,
    Tone,
};
use super::template::Renderer;
use super::{Case, GoldenSet, Message, Role};
use crate::config::{Diagnostic, Document, SchemaCheck};

/// A golden set as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGoldenSet {
    /// Name of the set; reports group cases by it.
    pub name: String,
    /// Template variables shared by every case (a case's own `vars` win).
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// Samples per case for this set, overriding the probe's `samples`.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub samples: Option<u32>,
    /// Share of samples that must pass for a case to pass (default 1.0).
    #[serde(default)]
    pub min_pass_rate: Option<f64>,
    /// Labels of every case of the set, e.g. `{ feature: document-analysis }` (a case's
    /// own win; the probe's lie beneath). Keys are Prometheus label names.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The cases.
    pub cases: Vec<RawCase>,
    /// Expectations every case of the set gets where its own `expect` does not set them.
    #[serde(default)]
    pub expect: Option<RawSetExpect>,
}

/// The set-level `expect:` defaults.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetExpect {
    /// `tone:` for every case; a case's own `expect.tone` keys win, key by key.
    #[serde(default)]
    pub tone: Option<RawTone>,
}

/// One case as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCase {
    /// Unique id within the set.
    pub id: String,
    /// The conversation to send; `content` is a handlebars template over `vars`.
    pub messages: Vec<RawMessage>,
    /// Template variables of this case.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// Retrieved passages for RAG cases; grounding is checked against them.
    #[serde(default)]
    pub context: Vec<String>,
    /// Samples for this case, overriding the set and the probe.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub samples: Option<u32>,
    /// Share of samples that must pass for the case to pass.
    #[serde(default)]
    pub min_pass_rate: Option<f64>,
    /// What the answer must do.
    #[serde(default)]
    pub expect: Option<RawExpect>,
    /// Labels of this case, over the set's and the probe's, e.g. `{ segment: enterprise }`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One message as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    /// `system`, `user` or `assistant`.
    pub role: Role,
    /// The text, a handlebars template (`{{company}}`).
    pub content: String,
}

static GOLDEN_SCHEMA: LazyLock<SchemaCheck> = LazyLock::new(SchemaCheck::of::<RawGoldenSet>);

/// Loads and validates the golden set in `path`.
pub fn load_golden_set(path: &Path) -> Result<GoldenSet, Vec<Diagnostic>> {
    let doc = Document::read(path).map_err(|d| vec![d])?;
    golden_set_from(&doc)
}

/// Validates a parsed golden-set document.
pub fn golden_set_from(doc: &Document) -> Result<GoldenSet, Vec<Diagnostic>> {
    let mut problems = GOLDEN_SCHEMA.check(doc, "", &doc.value);
    if !problems.is_empty() {
        return Err(problems);
    }
    let raw: RawGoldenSet = serde_json::from_value(doc.value.clone())
        .map_err(|e| vec![doc.error("", e.to_string())])?;
    crate::config::labels::check(doc, "/labels", &raw.labels, &mut problems);
    let renderer = Renderer::default();
    let set_tone = raw.expect.as_ref().and_then(|e| e.tone.as_ref());
    if let Some(tone) = set_tone {
        check_tone(doc, "/expect/tone", tone, &mut problems);
    }
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cases = Vec::new();
    for (i, case) in raw.cases.iter().enumerate() {
        let pointer = format!("/cases/{i}");
        if let Some(first) = ids.insert(&case.id, i) {
            problems.push(
                doc.error(
                    &format!("{pointer}/id"),
                    format!("duplicate case id `{}`", case.id),
                )
                .with_hint(format!(
                    "cases[{first}] already uses it; ids must be unique within a set"
                )),
            );
        }
        if let Some(case) = validate_case(doc, &pointer, &raw, case, &renderer, &mut problems) {
            cases.push(case);
        }
    }
    if problems.is_empty() {
        Ok(GoldenSet {
            name: raw.name,
            file: doc.path.clone(),
            cases,
        })
    } else {
        Err(problems)
    }
}

fn validate_case(
    doc: &Document,
    pointer: &str,
    set: &RawGoldenSet,
    raw: &RawCase,
    renderer: &Renderer,
    problems: &mut Vec<Diagnostic>,
) -> Option<Case> {
    let before = problems.len();
    crate::config::labels::check(doc, &format!("{pointer}/labels"), &raw.labels, problems);
    if raw.id.trim().is_empty() {
        problems.push(doc.error(&format!("{pointer}/id"), "case id is empty"));
    }
    let mut vars = set.vars.clone();
    vars.extend(raw.vars.clone());
    let data = Value::Object(vars.clone());

    if raw.messages.is_empty() {
        problems.push(doc.error(
            &format!("{pointer}/messages"),
            "a case needs at least one message",
        ));
    } else if !raw.messages.iter().any(|m| m.role == Role::User) {
        problems.push(
            doc.error(&format!("{pointer}/messages"), "no `user` message")
                .with_hint("the case must ask something: add `{ role: user, content: ... }`"),
        );
    }
    let messages: Vec<Message> = raw
        .messages
        .iter()
        .enumerate()
        .filter_map(|(j, m)| match renderer.render(&m.content, &data) {
            Ok(content) => Some(Message {
                role: m.role,
                content,
            }),
            Err(e) => {
                problems.push(
                    doc.error(&format!("{pointer}/messages/{j}/content"), e.to_string())
                        .with_hint("define it under the case's `vars:` (or the set's)"),
                );
                None
            }
        })
        .collect();

    let min_pass_rate = raw.min_pass_rate.or(set.min_pass_rate).unwrap_or(1.0);
    if !(0.0..=1.0).contains(&min_pass_rate) {
        problems.push(doc.error(
            &format!("{pointer}/min_pass_rate"),
            format!("must be between 0 and 1, found {min_pass_rate}"),
        ));
    }
    let raw_expect = raw.expect.clone().unwrap_or_default();
    if let Some(tone) = &raw_expect.tone {
        check_tone(doc, &format!("{pointer}/expect/tone"), tone, problems);
    }
    let set_tone = set.expect.as_ref().and_then(|e| e.tone.as_ref());
    let tone = match (raw_expect.tone.clone(), set_tone) {
        (Some(own), Some(defaults)) => Some(own.or(defaults)),
        (own, defaults) => own.or_else(|| defaults.cloned()),
    };
    let mut expect = compile_expect(doc, &format!("{pointer}/expect"), raw_expect, problems);
    expect.tone = tone.map(|t| Tone {
        sentiment_min: t.sentiment_min,
        language: t.language,
        max_reading_grade: t.max_reading_grade,
    });
    // `grounded` without `context` is allowed: an `http` target may return the passages it
    // retrieved, and the scorer reports `empty_retrieval` when none arrive.
    (problems.len() == before).then(|| Case {
        id: raw.id.clone(),
        set: set.name.clone(),
        messages,
        vars,
        context: raw.context.clone(),
        samples: raw.samples.or(set.samples),
        min_pass_rate,
        expect,
        labels: crate::config::labels::merged(&set.labels, &raw.labels),
    })
}

/// `tone:` bounds: sentiment in -1..1, a grade that is a number, a language code the
/// detector can report (ISO 639-1, with a did-you-mean, and the two-letter code for a
/// three-letter one).
fn check_tone(doc: &Document, pointer: &str, tone: &RawTone, problems: &mut Vec<Diagnostic>) {
    if let Some(v) = tone.sentiment_min.filter(|v| !(-1.0..=1.0).contains(v)) {
        problems.push(
            doc.error(
                &format!("{pointer}/sentiment_min"),
                format!("must be between -1 and 1, found {v}"),
            )
            .with_hint("VADER's compound score runs from -1 (most negative) to 1; 0 is neutral"),
        );
    }
    if let Some(v) = tone
        .max_reading_grade
        .filter(|v| !v.is_finite() || *v < 0.0)
    {
        problems.push(doc.error(
            &format!("{pointer}/max_reading_grade"),
            format!("must be a grade of 0 or more, found {v}"),
        ));
    }
    if let Some(code) = &tone.language {
        if !crate::score::tone::language::is_known(code) {
            let known: Vec<&str> = crate::score::tone::language::known_codes().collect();
            let hint = match crate::score::tone::language::two_letter(code) {
                Some(two) => format!("use the ISO 639-1 code: did you mean `{two}`?"),
                None => match crate::config::suggest::closest(code, known.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("an ISO 639-1 code the detector knows: {}", known.join(", ")),
                },
            };
            problems.push(
                doc.error(
                    &format!("{pointer}/language"),
                    format!("unknown language code `{code}`"),
                )
                .with_hint(hint),
            );
        }
    }
}

fn compile_expect(
    doc: &Document,
    pointer: &str,
    raw: RawExpect,
    problems: &mut Vec<Diagnostic>,
) -> Expect {
    let mut regexes =
        |key: &str, patterns: Option<super::expect::OneOrMany>| -> Vec<regex::Regex> {
            let patterns = patterns.map(|p| p.into_vec()).unwrap_or_default();
            let many = patterns.len() > 1;
            patterns
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    regex::Regex::new(p)
                        .map_err(|e| {
                            let at = if many {
                                format!("{pointer}/{key}/{i}")
                            } else {
                                format!("{pointer}/{key}")
                            };
                            let reason = e.to_string();
                            let last = reason.lines().last().unwrap_or("").trim().to_string();
                            problems.push(doc.error(&at, format!("invalid regex `{p}`: {last}")));
                        })
                        .ok()
                })
                .collect()
        };
    let regex = regexes("regex", raw.regex);
    let not_regex = regexes("not_regex", raw.not_regex);

    let json_schema = raw.json_schema.and_then(|source| {
        let at = format!("{pointer}/json_schema");
        if let Err(e) = jsonschema::meta::validate(&source) {
            let path = e.instance_path().as_str().to_string();
            let inner = if path.is_empty() { String::new() } else { format!(" at {path}") };
            problems.push(
                doc.error(&format!("{at}{path}"), format!("invalid JSON Schema{inner}: {e}"))
                    .with_hint("expect.json_schema must be a JSON Schema (draft 2020-12), e.g. { type: object, required: [id] }"),
            );
            return None;
        }
        match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&source)
        {
            Ok(validator) => Some(Schema { source, validator: Arc::new(validator) }),
            Err(e) => {
                problems.push(
                    doc.error(&at, format!("invalid JSON Schema: {e}"))
                        .with_hint("remote `$ref`s are not fetched; inline the referenced schema"),
                );
                None
            }
        }
    });

    let mut unit_interval = |key: &str, value: Option<f64>| {
        if let Some(v) = value.filter(|v| !(0.0..=1.0).contains(v)) {
            problems.push(doc.error(
                &format!("{pointer}/{key}"),
                format!("must be between 0 and 1, found {v}"),
            ));
        }
    };
    unit_interval("min_similarity", raw.min_similarity);
    let grounded = raw.grounded.map(|g| {
        unit_interval("grounded/min_support", g.min_support);
        Grounded {
            min_support: g.min_support.unwrap_or(DEFAULT_MIN_SUPPORT),
        }
    });
    let similar = raw.similar.map(|s| {
        unit_interval("similar/min_cosine", s.min_cosine);
        Similar {
            reference: s.reference,
            min_cosine: s.min_cosine.unwrap_or(DEFAULT_MIN_COSINE),
        }
    });
    if raw.min_similarity.is_some() && raw.reference.is_none() {
        problems.push(
            doc.error(
                &format!("{pointer}/min_similarity"),
                "`min_similarity` needs a `reference`",
            )
            .with_hint("add `reference: \"the expected answer\"`"),
        );
    }
    let one_of = raw.one_of.unwrap_or_default();
    if let Some(label) = &raw.label {
        if !one_of.contains(label) {
            problems.push(
                doc.error(
                    &format!("{pointer}/label"),
                    format!("label `{label}` is not among `one_of`"),
                )
                .with_hint(format!("one_of lists: {}", one_of.join(", "))),
            );
        }
    }
    Expect {
        contains: raw.contains.map(|c| c.into_vec()).unwrap_or_default(),
        not_contains: raw.not_contains.map(|c| c.into_vec()).unwrap_or_default(),
        case_sensitive: raw.case_sensitive.unwrap_or(false),
        regex,
        not_regex,
        equals: raw.equals,
        one_of,
        label: raw.label,
        json: raw.json,
        json_schema,
        max_tokens: raw.max_tokens,
        min_chars: raw.min_chars,
        max_chars: raw.max_chars,
        finish_reason: raw.finish_reason,
        refusal: raw.refusal,
        grounded,
        reference: raw.reference,
        min_similarity: raw.min_similarity,
        similar,
        rubric: raw.rubric,
        allow_pii: raw.allow_pii.unwrap_or(false),
        // Filled in by `validate_case`, which knows the set's defaults.
        tone: None,
    }
}
