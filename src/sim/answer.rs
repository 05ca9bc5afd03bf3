//! What the simulator answers: golden cases indexed by their prompt (`SimCase`), the answer
//! each one gets (material pre-rendered at start-up, seeded variation per request), the
//! profile's distortions (refusal, broken JSON, length), `max_tokens` truncation, token
//! counts and the verdicts of judge requests.

use std::collections::HashMap;

use rand::{Rng, RngExt};
use serde_json::Value;

use super::instance::minimal_instance;
use super::profile::Profile;
use super::seed::StableHasher;
use crate::golden::{Case, GoldenSet, Message, Role};

/// How a matched case is answered, in the order of preference the simulator follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// `equals`: exactly that text.
    Equals,
    /// `reference`, with a seeded opening / closing that keeps all of its words.
    Reference,
    /// `refusal: true`: a refusal.
    Refusal,
    /// Classification: the `label` (or the first of `one_of`).
    Label,
    /// `json_schema` (a minimal valid instance) or `json` (an object), bare JSON.
    Json,
    /// RAG cases: sentences taken verbatim from the `context` passages.
    Context,
    /// The `contains` strings woven into a sentence.
    Contains,
    /// A generic helpful paragraph.
    Generic,
}

/// Answer material of one case, rendered once at start-up so requests only pick from it.
#[derive(Debug, Clone)]
enum Plan {
    /// A fixed text (`equals`, a label).
    Fixed(String, AnswerKind),
    Reference {
        text: String,
        /// No opening or closing: refusals and JSON references stay as written.
        plain: bool,
        json: bool,
        /// Sentence carrying `contains` strings the reference lacks.
        extra: Option<String>,
    },
    Refusal,
    Json(String),
    Context {
        sentences: Vec<String>,
        contains: Vec<String>,
    },
    Contains(Vec<String>),
    Generic,
}

/// A golden case as the simulator knows it: the messages it is matched on and the material
/// of its answers.
#[derive(Debug, Clone)]
pub struct SimCase {
    /// `set/id`, for people reading stats and logs.
    pub id: String,
    /// The case's rendered messages; a request with exactly these is matched first.
    pub messages: Vec<Message>,
    /// The case's context passages: what the simulated RAG endpoint says it retrieved.
    pub context: Vec<String>,
    plan: Plan,
}

impl SimCase {
    /// Renders the answer material of `case`.
    pub fn from_case(case: &Case) -> SimCase {
        SimCase {
            id: format!("{}/{}", case.set, case.id),
            messages: case.messages.clone(),
            context: case.context.clone(),
            plan: plan(case),
        }
    }

    /// The last user message, trimmed: the fallback key requests are matched on.
    pub fn prompt(&self) -> &str {
        last_user(self.messages.iter().map(|m| (m.role, m.content.as_str())))
    }

    /// How this case is answered.
    pub fn kind(&self) -> AnswerKind {
        match &self.plan {
            Plan::Fixed(_, kind) => *kind,
            Plan::Reference { .. } => AnswerKind::Reference,
            Plan::Refusal => AnswerKind::Refusal,
            Plan::Json(_) => AnswerKind::Json,
            Plan::Context { .. } => AnswerKind::Context,
            Plan::Contains(_) => AnswerKind::Contains,
            Plan::Generic => AnswerKind::Generic,
        }
    }
}

/// Every case of every set, in order.
pub fn cases_from_golden(sets: &[GoldenSet]) -> Vec<SimCase> {
    sets.iter()
        .flat_map(|s| s.cases.iter())
        .map(SimCase::from_case)
        .collect()
}

fn plan(case: &Case) -> Plan {
    let e = &case.expect;
    let wants_json = e.json.is_some() || e.json_schema.is_some();
    if let Some(text) = &e.equals {
        return Plan::Fixed(text.clone(), AnswerKind::Equals);
    }
    if let Some(reference) = &e.reference {
        let json =
            serde_json::from_str::<Value>(reference).is_ok_and(|v| v.is_object() || v.is_array());
        // A prose reference for a JSON case would fail its format check: answer JSON.
        if json || !wants_json {
            let lower = reference.to_lowercase();
            let missing: Vec<String> = e
                .contains
                .iter()
                .filter(|c| !lower.contains(&c.to_lowercase()))
                .cloned()
                .collect();
            return Plan::Reference {
                text: reference.clone(),
                plain: json || e.refusal == Some(true),
                json,
                extra: (!missing.is_empty() && !json).then(|| weave(&missing, 0)),
            };
        }
    }
    if e.refusal == Some(true) {
        return Plan::Refusal;
    }
    if let Some(label) = e.label.as_ref().or(e.one_of.first()) {
        return Plan::Fixed(label.clone(), AnswerKind::Label);
    }
    if let Some(schema) = &e.json_schema {
        let instance = minimal_instance(&schema.source);
        if !schema.validator.is_valid(&instance) {
            tracing::warn!(
                case = %format!("{}/{}", case.set, case.id),
                "sim: the minimal instance generated for the case's json_schema does not validate; answering it anyway"
            );
        }
        return Plan::Json(instance.to_string());
    }
    if e.json.is_some() {
        let text = if e.contains.is_empty() {
            GENERIC[2].to_string()
        } else {
            weave(&e.contains, 0)
        };
        return Plan::Json(serde_json::json!({ "answer": text }).to_string());
    }
    let sentences: Vec<String> = case.context.iter().flat_map(|p| sentences(p)).collect();
    if !sentences.is_empty() {
        return Plan::Context {
            sentences,
            contains: e.contains.clone(),
        };
    }
    if !e.contains.is_empty() {
        return Plan::Contains(e.contains.clone());
    }
    Plan::Generic
}

/// The trimmed content of the last user message.
pub(crate) fn last_user<'a>(messages: impl DoubleEndedIterator<Item = (Role, &'a str)>) -> &'a str {
    messages
        .rev()
        .find(|(r, _)| *r == Role::User)
        .map_or("", |(_, c)| c.trim())
}

/// Hash of a whole conversation: roles and contents, in order.
pub(crate) fn conversation_hash<'a>(messages: impl Iterator<Item = (Role, &'a str)>) -> u64 {
    let mut h = StableHasher::new();
    for (role, content) in messages {
        h.write(role.as_str().as_bytes());
        h.separate();
        h.write(content.as_bytes());
        h.separate();
    }
    h.finish()
}

/// Golden cases indexed for matching: the whole conversation first (it tells apart cases
/// that ask the same question under different system prompts), then the last user message.
pub(crate) struct CaseIndex {
    pub(crate) cases: Vec<SimCase>,
    by_conversation: HashMap<u64, usize>,
    by_prompt: HashMap<String, usize>,
}

impl CaseIndex {
    pub(crate) fn new(cases: Vec<SimCase>) -> Self {
        let mut by_conversation = HashMap::new();
        let mut by_prompt = HashMap::new();
        for (i, case) in cases.iter().enumerate() {
            let h = conversation_hash(case.messages.iter().map(|m| (m.role, m.content.as_str())));
            by_conversation.entry(h).or_insert(i);
            by_prompt.entry(case.prompt().to_string()).or_insert(i);
        }
        CaseIndex {
            cases,
            by_conversation,
            by_prompt,
        }
    }

    /// The case a request is for, and whether the whole conversation matched.
    pub(crate) fn find(&self, messages: &[(Role, &str)], hash: u64) -> Option<(usize, bool)> {
        if let Some(&i) = self.by_conversation.get(&hash) {
            let case = &self.cases[i].messages;
            // Verify: a hash collision must not answer another case.
            let same = case.len() == messages.len()
                && case
                    .iter()
                    .zip(messages)
                    .all(|(a, (r, c))| a.role == *r && a.content == *c);
            if same {
                return Some((i, true));
            }
        }
        let prompt = last_user(messages.iter().copied());
        self.by_prompt.get(prompt).map(|&i| (i, false))
    }
}

/// One answer, before `max_tokens` applies.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub(crate) text: String,
    /// The answer is meant to be bare JSON (so `json_break` may apply).
    pub(crate) json: bool,
}

/// Faults the profile injected into an answer, for `/sim/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Distortions {
    pub(crate) refusal: bool,
    pub(crate) json_break: bool,
}

const OPENINGS: [&str; 6] = [
    "",
    "Sure — ",
    "Good question. ",
    "Certainly. ",
    "Happy to help. ",
    "Of course. ",
];

/// Filler closings: the same sentence paraphrased, so answers vary without new facts.
const CLOSINGS: [&str; 5] = [
    "",
    "",
    " Let me know if you have any other questions.",
    " I hope this helps.",
    " Feel free to ask if anything is unclear.",
];

pub(crate) const REFUSALS: [&str; 4] = [
    "I'm sorry, but I can't help with that request.",
    "I'm sorry, but I can't assist with that.",
    "I can't help with that. If you have another question, I'm happy to help.",
    "Sorry, I can't provide that information.",
];

const GENERIC: [&str; 7] = [
    "Thanks for your question.",
    "Here is a short, general answer.",
    "The details depend on your situation, but the usual approach works in most cases.",
    "Start with the basics, check the documentation, and adjust as you go.",
    "If you share more details, I can give a more specific answer.",
    "Many people find it helpful to take it one step at a time.",
    "Keeping notes of what you tried makes the next step easier.",
];

const FILLERS: [&str; 6] = [
    "To add a little more detail, this is the usual case.",
    "In most situations that is all you need to know.",
    "If anything changes, the same approach still applies.",
    "It is worth keeping this in mind for later.",
    "Many people ask about this, so it is a good question.",
    "There is not much more to it than that.",
];

const WEAVES: [&str; 3] = [
    "The key points are {}.",
    "In short: {}.",
    "Here is what matters: {}.",
];

fn pick<'a, R: Rng + ?Sized>(rng: &mut R, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// `contains` strings in one sentence: "a, b and c".
fn weave(items: &[String], variant: usize) -> String {
    let list = match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    };
    WEAVES[variant % WEAVES.len()].replacen("{}", &list, 1)
}

/// A generic helpful paragraph of three distinct sentences.
fn generic<R: Rng + ?Sized>(rng: &mut R) -> String {
    let first = rng.random_range(0..2);
    let second = rng.random_range(2..GENERIC.len());
    let mut third = rng.random_range(2..GENERIC.len() - 1);
    if third >= second {
        third += 1;
    }
    format!("{} {} {}", GENERIC[first], GENERIC[second], GENERIC[third])
}

/// Splits a passage into sentences (after `.`, `!` or `?` followed by white space).
fn sentences(passage: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = passage.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?') && chars.peek().is_some_and(|(_, n)| n.is_whitespace()) {
            let s = passage[start..=i].trim();
            if !s.is_empty() {
                out.push(s.to_string());
            }
            start = i + 1;
        }
    }
    let rest = passage[start..].trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

/// The answer to a matched case (or a generic paragraph), before the profile's distortions.
pub(crate) fn base_answer<R: Rng + ?Sized>(case: Option<&SimCase>, rng: &mut R) -> Answer {
    let text = |text: String| Answer { text, json: false };
    let Some(case) = case else {
        return text(generic(rng));
    };
    match &case.plan {
        Plan::Fixed(s, _) => text(s.clone()),
        Plan::Reference {
            text: reference,
            plain,
            json,
            extra,
        } => {
            if *plain {
                return Answer {
                    text: reference.clone(),
                    json: *json,
                };
            }
            let opening = pick(rng, &OPENINGS);
            let closing = pick(rng, &CLOSINGS);
            let mut s = String::with_capacity(reference.len() + 64);
            s.push_str(opening);
            s.push_str(reference);
            if let Some(extra) = extra {
                s.push(' ');
                s.push_str(extra);
            }
            s.push_str(closing);
            text(s)
        }
        Plan::Refusal => text(pick(rng, &REFUSALS).to_string()),
        Plan::Json(s) => Answer {
            text: s.clone(),
            json: true,
        },
        Plan::Context {
            sentences,
            contains,
        } => {
            let i = rng.random_range(0..sentences.len());
            let mut s = sentences[i].clone();
            if i + 1 < sentences.len() && rng.random_bool(0.5) {
                s.push(' ');
                s.push_str(&sentences[i + 1]);
            }
            let lower = s.to_lowercase();
            let missing: Vec<String> = contains
                .iter()
                .filter(|c| !lower.contains(&c.to_lowercase()))
                .cloned()
                .collect();
            if !missing.is_empty() {
                s.push(' ');
                s.push_str(&weave(&missing, rng.random_range(0..WEAVES.len())));
            }
            text(s)
        }
        Plan::Contains(items) => text(weave(items, rng.random_range(0..WEAVES.len()))),
        Plan::Generic => text(generic(rng)),
    }
}

/// Applies the profile's refusal, json_break and length_scale to an answer (seeded).
pub(crate) fn distort<R: Rng + ?Sized>(
    answer: &mut Answer,
    profile: &Profile,
    rng: &mut R,
) -> Distortions {
    let mut d = Distortions::default();
    if profile.refusal > 0.0 && rng.random_bool(profile.refusal) {
        answer.text = pick(rng, &REFUSALS).to_string();
        answer.json = false;
        d.refusal = true;
    }
    if answer.json {
        if profile.json_break > 0.0 && rng.random_bool(profile.json_break) {
            answer.text = break_json(&answer.text, rng);
            d.json_break = true;
        }
    } else if profile.length_scale != 1.0 {
        answer.text = scale_length(&answer.text, profile.length_scale, rng);
    }
    d
}

/// A JSON answer the way models break it: in a ```json fence, or cut mid-object.
fn break_json<R: Rng + ?Sized>(json: &str, rng: &mut R) -> String {
    let truncatable = (json.starts_with('{') || json.starts_with('[')) && json.len() > 1;
    if !truncatable || rng.random_bool(0.5) {
        return format!("```json\n{json}\n```");
    }
    // Any proper prefix of an object or array is invalid JSON.
    let cut = rng.random_range(1..json.len());
    let cut = (1..=cut)
        .rev()
        .find(|&i| json.is_char_boundary(i))
        .unwrap_or(1);
    json[..cut].to_string()
}

/// Longer (filler sentences) or shorter (cut at a word boundary) by `scale`.
fn scale_length<R: Rng + ?Sized>(text: &str, scale: f64, rng: &mut R) -> String {
    let len = text.chars().count();
    let target = (len as f64 * scale).round() as usize;
    if scale < 1.0 {
        return cut_at_word(text, target);
    }
    let mut s = String::with_capacity(target + 64);
    s.push_str(text);
    let mut n = len;
    let mut i = rng.random_range(0..FILLERS.len());
    while n < target {
        let f = FILLERS[i % FILLERS.len()];
        s.push(' ');
        s.push_str(f);
        n += f.len() + 1;
        i += 1;
    }
    s
}

/// The longest prefix of at most `max_chars` characters that ends at a word boundary
/// (a hard cut when the first word is already longer).
pub(crate) fn cut_at_word(text: &str, max_chars: usize) -> String {
    let end = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| i);
    if end == text.len() {
        return text.to_string();
    }
    let head = &text[..end];
    // The next character being white space means `head` already ends a word.
    if text[end..].starts_with(char::is_whitespace) {
        return head.trim_end().to_string();
    }
    match head.rfind(char::is_whitespace) {
        Some(i) if !head[..i].trim_end().is_empty() => head[..i].trim_end().to_string(),
        _ => head.to_string(),
    }
}

/// Tokens as the simulator counts them: with a real BPE tokenizer, as servers do (the
/// crate's one token count), so usage-based tests see what a real endpoint reports.
pub(crate) fn tokens(text: &str) -> u64 {
    crate::runner::estimate_tokens(text)
}

/// Cuts an answer to `max_tokens` (at a word boundary when one is near); true when it had
/// to (finish reason `length`).
pub(crate) fn limit_tokens(text: &mut String, max_tokens: Option<u64>) -> bool {
    let Some(max) = max_tokens else { return false };
    if tokens(text) <= max {
        return false;
    }
    let head = crate::runner::truncate_to_tokens(text, max);
    // Back to the last word boundary within it (a prefix of a prefix stays within `max`).
    *text = cut_at_word(text, head.chars().count());
    true
}

/// The system prompt that marks a request from probity's LLM judge.
pub(crate) const JUDGE_MARKER: &str = "You are probity's judge.";

/// The verdict of a judge request: pass when the text after `Answer:` in the user message
/// is non-empty and not a refusal; `judge_fail` flips it.
pub(crate) fn judge_verdict<R: Rng + ?Sized>(user: &str, judge_fail: f64, rng: &mut R) -> String {
    let answer = user.find("Answer:").map_or("", |i| user[i + 7..].trim());
    let (mut pass, mut reason) = if answer.is_empty() {
        (false, "The answer is empty.")
    } else if is_refusal(answer) {
        (
            false,
            "The answer refuses instead of addressing the question.",
        )
    } else {
        (
            true,
            "The answer addresses the question as the rubric asks.",
        )
    };
    if judge_fail > 0.0 && rng.random_bool(judge_fail) {
        pass = !pass;
        reason = if pass {
            "The answer is acceptable."
        } else {
            "The answer does not meet the rubric."
        };
    }
    // Scores spread a little, like a real judge's, on the side of the verdict.
    let score = if pass {
        rng.random_range(0.8..=1.0)
    } else {
        rng.random_range(0.0..=0.3)
    };
    let score = (score * 100.0_f64).round() / 100.0;
    serde_json::json!({ "pass": pass, "score": score, "reason": reason }).to_string()
}

/// Whether a text reads like a refusal (the phrases the simulator and most models use).
pub(crate) fn is_refusal(text: &str) -> bool {
    let head: String = text.chars().take(200).collect::<String>().to_lowercase();
    [
        "i'm sorry",
        "i am sorry",
        "sorry, i can",
        "i can't help",
        "i can't assist",
        "i can't provide",
        "i cannot help",
        "i cannot assist",
        "i cannot provide",
        "i won't",
        "i'm unable",
        "i am unable",
    ]
    .iter()
    .any(|p| head.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::Expect;
    use crate::sim::seed::request_rng;

    fn case(id: &str, prompt: &str, expect: Expect, context: Vec<String>) -> Case {
        Case {
            labels: Default::default(),
            id: id.into(),
            set: "t".into(),
            messages: vec![
                Message {
                    role: Role::System,
                    content: "You are helpful.".into(),
                },
                Message {
                    role: Role::User,
                    content: prompt.into(),
                },
            ],
            vars: Default::default(),
            context,
            samples: None,
            min_pass_rate: 1.0,
            expect,
        }
    }

    #[test]
    fn reference_keeps_every_word_and_adds_contains() {
        let c = SimCase::from_case(&case(
            "r",
            "refund?",
            Expect {
                reference: Some("You can ask for a refund within 30 days.".into()),
                contains: vec!["receipt".into()],
                ..Default::default()
            },
            vec![],
        ));
        let mut seen = std::collections::HashSet::new();
        for n in 0..50 {
            let a = base_answer(Some(&c), &mut request_rng(1, 2, n));
            assert!(a.text.contains("You can ask for a refund within 30 days."));
            assert!(a.text.contains("receipt"));
            seen.insert(a.text);
        }
        assert!(seen.len() > 3, "answers vary: {seen:?}");
    }

    #[test]
    fn context_answers_are_verbatim_sentences() {
        let passage = "The warranty covers defects for 2 years. It does not cover water damage.";
        let c = SimCase::from_case(&case(
            "w",
            "warranty?",
            Expect::default(),
            vec![passage.into()],
        ));
        assert_eq!(c.kind(), AnswerKind::Context);
        for n in 0..20 {
            let a = base_answer(Some(&c), &mut request_rng(1, 2, n));
            for s in sentences(&a.text) {
                assert!(passage.contains(&s), "{s}");
            }
        }
    }

    #[test]
    fn distortions_refuse_break_and_scale() {
        let mut rng = request_rng(3, 4, 5);
        let p = Profile {
            refusal: 1.0,
            ..Profile::default()
        };
        let mut a = Answer {
            text: "{\"a\":1}".into(),
            json: true,
        };
        assert!(distort(&mut a, &p, &mut rng).refusal);
        assert!(is_refusal(&a.text));

        let p = Profile {
            json_break: 1.0,
            ..Profile::default()
        };
        for n in 0..20 {
            let mut a = Answer {
                text: "{\"id\":1,\"status\":\"open\"}".into(),
                json: true,
            };
            distort(&mut a, &p, &mut request_rng(0, 0, n));
            assert!(
                serde_json::from_str::<Value>(&a.text).is_err(),
                "{}",
                a.text
            );
        }

        let text = "one two three four five six seven eight nine ten";
        let long = scale_length(text, 3.0, &mut rng);
        assert!(long.starts_with(text) && long.len() >= 3 * text.len());
        let short = scale_length(text, 0.5, &mut rng);
        assert_eq!(short, "one two three four five");
    }

    #[test]
    fn max_tokens_cuts_at_a_word() {
        let mut s = "alpha beta gamma delta epsilon".to_string();
        assert!(limit_tokens(&mut s, Some(3)));
        assert_eq!(s, "alpha beta gamma");
        assert!(tokens(&s) <= 3);
        let mut s = "short".to_string();
        assert!(!limit_tokens(&mut s, Some(3)));
        // One long word is cut hard, within the bound.
        let word = "q9zk7lmp2wr8xv4nj3";
        let mut s = word.to_string();
        assert!(limit_tokens(&mut s, Some(2)));
        assert!(
            !s.is_empty() && word.starts_with(&s) && tokens(&s) <= 2,
            "{s}"
        );
    }

    #[test]
    fn judge_passes_answers_and_fails_refusals() {
        let mut rng = request_rng(0, 0, 0);
        let v: Value =
            serde_json::from_str(&judge_verdict("Rubric: x\nAnswer: 30 days", 0.0, &mut rng))
                .unwrap();
        assert_eq!(v["pass"], true);
        let v: Value = serde_json::from_str(&judge_verdict(
            "Answer: I'm sorry, but I can't help with that request.",
            0.0,
            &mut rng,
        ))
        .unwrap();
        assert_eq!(v["pass"], false);
        let v: Value = serde_json::from_str(&judge_verdict("Answer:   ", 1.0, &mut rng)).unwrap();
        assert_eq!(v["pass"], true, "judge_fail flips");
    }

    #[test]
    fn index_prefers_the_whole_conversation() {
        let a = case(
            "a",
            "Same question?",
            Expect {
                label: Some("a".into()),
                ..Default::default()
            },
            vec![],
        );
        let mut b = case(
            "b",
            "Same question?",
            Expect {
                label: Some("b".into()),
                ..Default::default()
            },
            vec![],
        );
        b.messages[0].content = "Another system prompt.".into();
        let index = CaseIndex::new(vec![SimCase::from_case(&a), SimCase::from_case(&b)]);
        let req: Vec<(Role, &str)> = b
            .messages
            .iter()
            .map(|m| (m.role, m.content.as_str()))
            .collect();
        let h = conversation_hash(req.iter().copied());
        assert_eq!(index.find(&req, h), Some((1, true)));
        let req = vec![(Role::User, "  Same question? ")];
        let h = conversation_hash(req.iter().copied());
        assert_eq!(index.find(&req, h), Some((0, false)));
        assert_eq!(index.find(&[(Role::User, "other")], 0), None);
    }
}
