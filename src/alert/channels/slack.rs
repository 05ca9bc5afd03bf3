//! Slack incoming webhook. The payload is `text` (the notification's one line, used by
//! Slack for the notification banner and by clients without blocks) plus `blocks`: a
//! section with the headline and summary, a section with the details as `*key:* value`
//! lines, and a context line with the probe, rule, start and link. Every text that may
//! hold model output is neutralised, mrkdwn-escaped (`&`, `<`, `>`, so nothing becomes a
//! link or a mention) and truncated below Slack's 3000-character section limit.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{Http, headline, neutralize, truncate};
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

/// Truncates first (on the raw text) then escapes, so an entity is never cut in half.
fn safe(text: &str, max: usize) -> String {
    escape_mrkdwn(&truncate(text, max))
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
