//! The text of a notification: symptom first (the finding's sentence has the value and
//! threshold, or baseline, effect and p; a custom rule's names its limit) with the likely
//! cause after it ("top error: timeout (31 of 48)"), then since when and for how many runs,
//! the top errors with one example, any model change since the baseline, the target's
//! labels and where the run's details are (`link`: a path or URL, whatever the caller
//! has). Model text is cut short here; each channel escapes for its own format.

use chrono::{DateTime, Utc};

use super::{Action, Notification};
use crate::compare::Severity;
use crate::store::IncidentRecord;

/// The longest summary line (the finding's sentence may quote model output).
pub const MAX_SUMMARY: usize = 300;

/// Cuts `text` to `max` characters, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

fn ago(from: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - from).num_minutes().max(0);
    match minutes {
        0 => "just now".to_string(),
        m if m < 120 => format!("{m} minutes ago"),
        m => format!("{} hours ago", m / 60),
    }
}

/// A finding's sentence without its trailing " — critical": every channel shows the
/// severity on its own.
fn symptom(message: &str) -> &str {
    [Severity::Critical, Severity::Warning, Severity::Info]
        .into_iter()
        .map(|s| crate::report::numbers::without_severity(message, s))
        .find(|m| m.len() < message.len())
        .unwrap_or(message)
}

/// The first letter upper-cased: the summary is a sentence ("Error rate 5.2% ...").
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What the run adds to an incident's own record: the likely cause for the summary line
/// and detail lines (see `alert::context`). Empty for a resolve.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context<'a> {
    pub cause: Option<&'a str>,
    pub details: &'a [(String, String)],
}

/// The notification of `incident` for one channel.
pub fn notification(
    incident: &IncidentRecord,
    action: Action,
    delivery_id: String,
    dedup_key: String,
    link: Option<&str>,
    context: &Context<'_>,
    now: DateTime<Utc>,
) -> Notification {
    let severity = match incident.severity.as_str() {
        "critical" => Severity::Critical,
        "info" => Severity::Info,
        _ => Severity::Warning,
    };
    let on = if incident.target.is_empty() {
        incident.probe.clone()
    } else {
        format!("{} ({})", incident.probe, incident.target)
    };
    let summary = match action {
        Action::Trigger => {
            let cause = context.cause.map(|c| format!(", {c}")).unwrap_or_default();
            // The symptom gives way first: where and why must survive a long finding
            // (a case's failing reason can quote a whole answer).
            let tail = format!(" on {on}{cause}");
            let room = MAX_SUMMARY.saturating_sub(tail.chars().count() + 1).max(80);
            let symptom = truncate(&capitalized(symptom(&incident.summary)), room);
            truncate(&format!("{symptom}{tail}"), MAX_SUMMARY)
        }
        Action::Resolve => truncate(&format!("Resolved: {} on {on}", incident.rule), MAX_SUMMARY),
    };
    let mut details = vec![
        (
            "since".to_string(),
            format!(
                "{} ({}), {} failing run{}",
                incident.opened_at.format("%Y-%m-%d %H:%M UTC"),
                ago(incident.opened_at, now),
                incident.runs_failing,
                if incident.runs_failing == 1 { "" } else { "s" }
            ),
        ),
        ("rule".to_string(), incident.rule.clone()),
    ];
    details.extend(
        context
            .details
            .iter()
            .map(|(k, v)| (k.clone(), truncate(v, MAX_SUMMARY))),
    );
    if action == Action::Resolve {
        details.push((
            "last symptom".to_string(),
            truncate(&incident.summary, MAX_SUMMARY),
        ));
    }
    if !incident.labels.is_empty() {
        let labels: Vec<String> = incident
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={}", truncate(v, 80)))
            .collect();
        details.push(("labels".to_string(), labels.join(", ")));
    }
    if let Some(link) = link {
        details.push(("details".to_string(), link.to_string()));
    }
    let mut labels = incident.labels.clone();
    labels.insert("probe".into(), incident.probe.clone());
    labels.insert("rule".into(), incident.rule.clone());
    if !incident.target.is_empty() {
        labels.insert("target".into(), incident.target.clone());
    }
    Notification {
        delivery_id,
        dedup_key,
        action,
        severity,
        probe: incident.probe.clone(),
        rule: incident.rule.clone(),
        summary,
        details,
        labels,
        started_at: incident.opened_at,
        ended_at: (action == Action::Resolve).then_some(incident.resolved_at.unwrap_or(now)),
        link: link.map(str::to_string),
        test: false,
        mail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(summary: &str) -> IncidentRecord {
        let now = Utc::now();
        IncidentRecord {
            id: 1,
            key: "k".into(),
            probe: "support-bot".into(),
            rule: "threshold:error_rate".into(),
            target: "default".into(),
            labels: Default::default(),
            severity: "critical".into(),
            opened_at: now,
            last_seen: now,
            runs_failing: 3,
            firing: true,
            notified_at: None,
            acknowledged_at: None,
            silenced: false,
            resolved_at: None,
            summary: summary.into(),
            told: vec![],
        }
    }

    #[test]
    fn the_summary_is_symptom_where_and_cause_and_a_long_symptom_gives_way() {
        let details = vec![("errors".to_string(), "timeout 31 of 48".to_string())];
        let context = Context {
            cause: Some("top error: timeout (31 of 48)"),
            details: &details,
        };
        let i = incident("error rate 5.2% is above the critical limit 2% — critical");
        let n = notification(
            &i,
            Action::Trigger,
            "d".into(),
            "k".into(),
            None,
            &context,
            i.opened_at,
        );
        assert_eq!(
            n.summary,
            "Error rate 5.2% is above the critical limit 2% on support-bot (default), top error: timeout (31 of 48)"
        );
        assert!(n.details.contains(&details[0]));
        let long = incident(&"x".repeat(1000));
        let n = notification(
            &long,
            Action::Trigger,
            "d".into(),
            "k".into(),
            None,
            &context,
            i.opened_at,
        );
        assert!(
            n.summary.chars().count() <= MAX_SUMMARY + 1,
            "{}",
            n.summary
        );
        assert!(
            n.summary
                .ends_with("… on support-bot (default), top error: timeout (31 of 48)"),
            "{}",
            n.summary
        );
    }
}
