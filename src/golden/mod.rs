//! Golden prompt sets: the cases a probe sends, their messages (rendered once, at load, with
//! handlebars in strict mode), RAG context passages and what each answer is expected to do.

pub mod expect;
mod load;

pub use load::{golden_set_from, load_golden_set};
pub mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use expect::Expect;

/// Who speaks a message, as chat APIs know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One chat message, its template already rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

/// A golden set, validated: every case rendered and its expectations compiled.
#[derive(Debug, Clone)]
pub struct GoldenSet {
    pub name: String,
    pub file: PathBuf,
    pub cases: Vec<Case>,
}

/// One golden case, ready to send.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique within its set; `set/id` is unique within a probe.
    pub id: String,
    /// Name of the golden set the case comes from.
    pub set: String,
    pub messages: Vec<Message>,
    /// The case's template variables, kept for the `http` provider's body template.
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// Retrieved passages for RAG cases (grounding is checked against them).
    pub context: Vec<String>,
    /// Samples for this case, overriding the probe's `samples`.
    pub samples: Option<u32>,
    /// Share of samples that must pass for the case to pass.
    pub min_pass_rate: f64,
    pub expect: Expect,
    /// The case's labels (`feature: document-analysis`): its set's merged with its own
    /// (the case's win) when loaded, then the probe's beneath them when the probe is
    /// validated. Every observation of the case carries them.
    pub labels: BTreeMap<String, String>,
}

impl Case {
    /// The last user message: what the case asks.
    pub fn prompt(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("")
    }

    /// The system prompt, if the case has one (leak detection compares answers with it).
    pub fn system_prompt(&self) -> Option<&str> {
        self.messages
            .iter()
            .find(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
    }
}
