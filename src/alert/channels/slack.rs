//! Slack incoming webhook. The payload is `text` (the notification's one line, used by
//! Slack for the notification banner and by clients without blocks) plus `blocks`: a
//! section with the headline and summary, a section with the details as `*key:* value`
//! lines, and a context line with the probe, rule, start and link. Every text that may
//! hold model output is neutralised, mrkdwn-escaped (`&`, `<`, `>`, so nothing becomes a
//! link or a mention) and truncated below Slack's 3000-character section limit.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Http, headline, neutralize};
use crate::alert::{Action, Notification, Notifier, NotifyError};

/// Slack's limit for a section's text is 3000 characters; stay under it after escaping.
const SECTION_MAX: usize = 2900;
const TEXT_MAX: usize = 1000;

pub struct Slack {
    pub(crate) url: reqwest::Url,
    pub(crate) http: Http,
}

/// Escapes the three characters Slack's mrkdwn gives meaning to.
pub fn escape_mrkdwn(text: &str) -> String {
    neutralize(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes then cuts to at most `max` characters, never inside an entity (`&amp;`), so a
/// text full of `&` stays under Slack's limit after escaping.
fn safe(text: &str, max: usize) -> String {
    let escaped = escape_mrkdwn(text);
    if escaped.chars().count() <= max {
        return escaped;
    }
    let mut out = String::new();
    let mut count = 0;
    let mut rest = escaped.as_str();
    while let Some(c) = rest.chars().next() {
        // An entity is one unit: `&amp;`, `&lt;`, `&gt;`.
        let unit = ["&amp;", "&lt;", "&gt;"]
            .into_iter()
            .find(|e| rest.starts_with(e))
            .unwrap_or(&rest[..c.len_utf8()]);
        let len = unit.chars().count();
        if count + len > max.saturating_sub(1) {
            break;
        }
        out.push_str(unit);
        count += len;
        rest = &rest[unit.len()..];
    }
    out.push('…');
    out
}

/// The JSON body sent to the webhook.
pub fn payload(n: &Notification) -> Value {
    let icon = match (n.action, n.severity) {
        (Action::Resolve, _) => ":white_check_mark:",
        (_, crate::compare::Severity::Critical) => ":rotating_light:",
        (_, crate::compare::Severity::Warning) => ":warning:",
        (_, crate::compare::Severity::Info) => ":information_source:",
    };
    let head = headline(n);
    let text = format!("{head}: {}", safe(&n.summary, TEXT_MAX));
    let mut blocks = vec![json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": format!("{icon} *{head}* {}", safe(&n.summary, SECTION_MAX)) },
    })];
    if !n.details.is_empty() {
        let lines: Vec<String> = n
            .details
            .iter()
            .map(|(k, v)| format!("*{}:* {}", safe(k, 100), safe(v, 500)))
            .collect();
        // Lines are escaped already; cut the joined text on a line boundary.
        let mut body = String::new();
        for line in lines {
            if body.len() + line.len() + 1 > SECTION_MAX {
                body.push_str("\n…");
                break;
            }
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(&line);
        }
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": body } }));
    }
    let mut context = format!(
        "probe `{}` · rule `{}` · since {}",
        safe(&n.probe, 200),
        safe(&n.rule, 200),
        n.started_at.format("%Y-%m-%d %H:%M UTC")
    );
    if let Some(ended) = n.ended_at {
        context.push_str(&format!(
            " · resolved {}",
            ended.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if let Some(link) = &n.link {
        context.push_str(&format!(" · details: {}", safe(link, 500)));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [ { "type": "mrkdwn", "text": context } ],
    }));
    json!({ "text": text, "blocks": blocks })
}

impl Notifier for Slack {
    fn name(&self) -> &str {
        &self.http.name
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let body = payload(n);
            self.http
                .send(self.http.client.post(self.url.clone()).json(&body))
                .await
        })
    }
}
