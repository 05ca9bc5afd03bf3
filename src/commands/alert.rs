//! `probity alert ...` (incidents, silences, the outbox, fire drills), and what a command
//! that alerts checks before it sends anything (every channel of every route can be built:
//! a configuration error otherwise, so an alert is never silently dropped) and prints after
//! each run (what fired, what was sent).

use std::collections::BTreeMap;

use chrono::Utc;

use super::{CommandError, database, open_existing, open_store};
use crate::alert::after_run::{Activity, CHANNEL_TIMEOUT};
use crate::alert::routing::{build_notifiers, channels_for, route_channels};
use crate::alert::{Action, Notification};
use crate::cli::{AlertCommand, AlertSeverity, Cli};
use crate::compare::Severity;
use crate::config::{AlertRouting, Probe, parse_duration, process_env};
use crate::exit;
use crate::report::terminal::sanitize;

/// For a command that will alert: the project's routing file, loaded now (its `${VAR}`s
/// must be set) and checked so every channel of every probe's route can be built (exit 2
/// when not, before anything is sent), and so every `report.email` has its e-mail channel.
/// `None` when no probe alerts or e-mails a summary.
pub fn prepare(cli: &Cli, probes: &[&Probe]) -> Result<Option<AlertRouting>, CommandError> {
    prepare_in(&cli.root, probes)
}

/// `prepare` for the project folder `root` (the daemon reloads without a `Cli`).
pub fn prepare_in(
    root: &std::path::Path,
    probes: &[&Probe],
) -> Result<Option<AlertRouting>, CommandError> {
    if probes
        .iter()
        .all(|p| p.alert_route.is_none() && p.report.email.is_none())
    {
        return Ok(None);
    }
    let routing = crate::config::load_routing(root, &process_env).map_err(CommandError::Config)?;
    check_summaries(probes, routing.as_ref())?;
    for route in probes.iter().filter_map(|p| p.alert_route.as_ref()) {
        let Some(routing) = &routing else {
            return Err(CommandError::Usage(format!(
                "a probe alerts through route `{route}`, but the project has no \
                 alert-routing file (probes/alerts.yaml); add one, or run with --no-alerts"
            )));
        };
        check_route(routing, route)?;
    }
    Ok(routing)
}

/// Every probe's `report.email` names (or implies) an e-mail channel of the routing file
/// that can be built: a configuration error at its key otherwise (exit 2), before anything
/// is sent.
fn check_summaries(probes: &[&Probe], routing: Option<&AlertRouting>) -> Result<(), CommandError> {
    for probe in probes.iter().filter(|p| p.report.email.is_some()) {
        let Some(routing) = routing else {
            return Err(CommandError::Usage(format!(
                "probe `{}` e-mails its summary (report.email), but the project has no \
                 alert-routing file (probes/alerts.yaml) with an e-mail channel; add one, or \
                 run with --no-alerts",
                probe.name
            )));
        };
        let mut problems = crate::config::Diagnostics::default();
        problems.extend(crate::config::report::check_channels(
            &probe.file,
            &probe.report,
            routing,
        ));
        problems.into_result(()).map_err(CommandError::Config)?;
        let named = probe
            .report
            .email
            .as_ref()
            .and_then(|e| e.channel.as_deref());
        if let Ok(channel) = crate::config::report::resolve_channel(routing, named) {
            build_notifiers(routing, &[channel], CHANNEL_TIMEOUT)
                .map_err(|e| CommandError::Usage(e.to_string()))?;
        }
    }
    Ok(())
}

/// Says on stderr what the e-mailed summary did after a run.
pub fn print_summary(activity: &crate::report::email::SummaryActivity) {
    let report = &activity.delivery;
    if activity.queued || !report.rows.is_empty() {
        eprintln!(
            "e-mail summary{} via `{}`: {} sent, {} pending, {} failed",
            if activity.queued { " queued" } else { "" },
            activity.channel,
            report.count("sent"),
            report.count("pending"),
            report.count("failed"),
        );
    }
    for row in report.rows.iter().filter(|r| r.status != "sent") {
        eprintln!(
            "e-mail: {} to `{}` {}: {}",
            row.delivery_id,
            row.channel,
            row.status,
            sanitize(row.error.as_deref().unwrap_or(""), 300)
        );
    }
}

/// Whether every channel of `route` can be built (exit 2 when not).
pub fn check_route(routing: &AlertRouting, route: &str) -> Result<(), CommandError> {
    let usage = |e: crate::alert::routing::RoutingError| CommandError::Usage(e.to_string());
    let names = route_channels(routing, route).map_err(usage)?;
    build_notifiers(routing, &names, CHANNEL_TIMEOUT).map_err(usage)?;
    Ok(())
}

/// Says on stderr what alerting did after a run: what fired, was sent, is still pending.
pub fn print_activity(activity: &Activity) {
    let (eval, report) = (&activity.evaluation, &activity.delivery);
    let (sent, pending, failed) = (
        report.count("sent"),
        report.count("pending"),
        report.count("failed"),
    );
    if sent + pending + failed > 0 || !eval.pending.is_empty() {
        let line = format!(
            "alerts: {} fired, {} reminded, {} resolved, {} waiting for `for`, {} silenced; \
             {sent} sent, {pending} pending, {failed} failed",
            eval.fired.len(),
            eval.reminded.len(),
            eval.resolved.len(),
            eval.pending.len(),
            eval.silenced.len(),
        );
        crate::logs::note(tracing::Level::INFO, &line);
    }
    for row in report.rows.iter().filter(|r| r.status != "sent") {
        let line = format!(
            "alerts: {} to `{}` {}: {}",
            row.delivery_id,
            row.channel,
            row.status,
            sanitize(row.error.as_deref().unwrap_or(""), 300)
        );
        crate::logs::note(tracing::Level::WARN, &line);
    }
}

/// `probity alert test`: each channel gets the trigger then the resolve, concurrently.
async fn fire_drill(
    cli: &Cli,
    route: Option<&str>,
    channel: Option<&str>,
    severity: AlertSeverity,
    no_resolve: bool,
) -> Result<i32, CommandError> {
    let routing = crate::config::load_routing(&cli.root, &process_env)
        .map_err(CommandError::Config)?
        .ok_or_else(|| {
            CommandError::Usage(
                "no alert-routing file in probes/ (a YAML file with `channels:` and `routes:`)"
                    .into(),
            )
        })?;
    let severity = match severity {
        AlertSeverity::Critical => Severity::Critical,
        AlertSeverity::Warning => Severity::Warning,
        AlertSeverity::Info => Severity::Info,
    };
    let usage = |e: crate::alert::routing::RoutingError| CommandError::Usage(e.to_string());
    let route = route.unwrap_or("default");
    let names = match channel {
        Some(c) => vec![c.to_string()],
        None => channels_for(&routing, route, severity).map_err(usage)?,
    };
    if names.is_empty() {
        return Err(CommandError::Usage(format!(
            "route `{route}` sends {} to no channel; try another --severity or --channel",
            severity.as_str()
        )));
    }
    let notifiers = build_notifiers(&routing, &names, CHANNEL_TIMEOUT).map_err(usage)?;
    let now = Utc::now();
    let drill = |action: Action| Notification {
        delivery_id: uuid::Uuid::now_v7().to_string(),
        dedup_key: format!("probity-test-{}", now.timestamp_millis()),
        action,
        severity,
        probe: "probity-fire-drill".into(),
        rule: "test".into(),
        summary: "TEST: probity fire drill, no action needed".into(),
        details: vec![("sent by".into(), "probity alert test".into())],
        labels: BTreeMap::from([("test".to_string(), "true".to_string())]),
        started_at: now,
        ended_at: (action == Action::Resolve).then_some(now),
        link: None,
        test: true,
        mail: None,
    };
    let jobs = notifiers.values().map(|n| {
        let (trigger, resolve) = (drill(Action::Trigger), drill(Action::Resolve));
        async move {
            let mut lines = Vec::new();
            let mut ok = true;
            let steps: Vec<&Notification> = if no_resolve {
                vec![&trigger]
            } else {
                vec![&trigger, &resolve]
            };
            for step in steps {
                let started = std::time::Instant::now();
                let result = tokio::time::timeout(CHANNEL_TIMEOUT, n.notify(step)).await;
                let ms = started.elapsed().as_millis();
                let what = match step.action {
                    Action::Trigger => "trigger",
                    Action::Resolve => "resolve",
                };
                let line = match result {
                    Ok(Ok(())) => format!("{}: {what} accepted in {ms} ms", n.name()),
                    Ok(Err(e)) => {
                        ok = false;
                        format!(
                            "{}: {what} FAILED in {ms} ms ({}): {}",
                            n.name(),
                            if e.retryable {
                                "retryable"
                            } else {
                                "not retryable"
                            },
                            sanitize(&e.message, 300)
                        )
                    }
                    Err(_) => {
                        ok = false;
                        format!(
                            "{}: {what} FAILED: no answer within {CHANNEL_TIMEOUT:?}",
                            n.name()
                        )
                    }
                };
                lines.push(line);
                if !ok {
                    break;
                }
            }
            (ok, lines)
        }
    });
    let mut all_ok = true;
    for (ok, lines) in futures_util::future::join_all(jobs).await {
        all_ok &= ok;
        for line in lines {
            println!("{line}");
        }
    }
    Ok(if all_ok {
        exit::PASSED
    } else {
        exit::VERDICT_FAILED
    })
}

pub async fn alert(cli: &Cli, command: &AlertCommand) -> Result<i32, CommandError> {
    if let AlertCommand::Test {
        route,
        channel,
        severity,
        no_resolve,
    } = command
    {
        return fire_drill(
            cli,
            route.as_deref(),
            channel.as_deref(),
            *severity,
            *no_resolve,
        )
        .await;
    }
    let path = database(cli, &[])?;
    let now = Utc::now();
    match command {
        AlertCommand::List => {
            let Some(store) = open_existing(&path)? else {
                println!("no open incidents");
                return Ok(exit::PASSED);
            };
            let open = store.open_incidents(None)?;
            if open.is_empty() {
                println!("no open incidents");
            }
            for i in open {
                let state = if i.silenced {
                    "silenced"
                } else if i.firing {
                    "firing"
                } else {
                    "pending"
                };
                // Acknowledged is beside the state: an acknowledged incident still fires.
                let ack = match (i.acknowledged_at, store.ack_reason(i.id)?) {
                    (None, _) => String::new(),
                    (Some(at), reason) => format!(
                        " [acknowledged {}{}]",
                        at.format("%Y-%m-%d %H:%M UTC"),
                        reason.map_or(String::new(), |r| format!(": {}", sanitize(&r, 200)))
                    ),
                };
                println!(
                    "#{:<4} {state:<8}{ack} {:<8} {} {} ({}) since {}, {} failing runs: {}",
                    i.id,
                    i.severity,
                    sanitize(&i.probe, 80),
                    sanitize(&i.rule, 120),
                    sanitize(&i.target, 80),
                    i.opened_at.format("%Y-%m-%d %H:%M UTC"),
                    i.runs_failing,
                    sanitize(&i.summary, 200)
                );
            }
        }
        AlertCommand::Silence {
            probe,
            rule,
            duration,
            reason,
        } => {
            let d =
                parse_duration(duration).map_err(|e| CommandError::Usage(format!("--for: {e}")))?;
            let until = now
                + chrono::Duration::from_std(d)
                    .map_err(|_| CommandError::Usage(format!("--for {duration}: too long")))?;
            let store = open_store(&path)?;
            let id = store.add_silence(probe, rule.as_deref(), until, reason, now)?;
            println!(
                "silence {id}: {} {} until {}",
                sanitize(probe, 80),
                rule.as_deref()
                    .map_or("(every rule)".to_string(), |r| sanitize(r, 120)),
                until.format("%Y-%m-%d %H:%M UTC")
            );
        }
        AlertCommand::Ack { id, reason } => {
            let acked = match open_existing(&path)? {
                Some(store) => store.acknowledge_incident(*id, reason.as_deref(), now)?,
                None => None,
            };
            let Some(i) = acked else {
                return Err(CommandError::Usage(format!(
                    "no open incident #{id} (list them with `probity alert list`)"
                )));
            };
            println!(
                "incident #{id} acknowledged: {} {} ({}); no more reminders, it still resolves",
                sanitize(&i.probe, 80),
                sanitize(&i.rule, 120),
                sanitize(&i.target, 80),
            );
        }
        AlertCommand::Silences => {
            let silences = match open_existing(&path)? {
                Some(store) => store.silences(now)?,
                None => vec![],
            };
            if silences.is_empty() {
                println!("no silences in force");
            }
            for s in silences {
                println!(
                    "{:<4} {} {} until {}: {}",
                    s.id,
                    sanitize(&s.probe, 80),
                    s.rule
                        .as_deref()
                        .map_or("(every rule)".to_string(), |r| sanitize(r, 120)),
                    s.until.format("%Y-%m-%d %H:%M UTC"),
                    sanitize(&s.reason, 200)
                );
            }
        }
        AlertCommand::Unsilence { id } => {
            let removed = match open_existing(&path)? {
                Some(store) => store.remove_silence(*id)?,
                None => false,
            };
            if !removed {
                return Err(CommandError::Usage(format!(
                    "no silence {id} (list them with `probity alert silences`)"
                )));
            }
            println!("silence {id} lifted");
        }
        AlertCommand::Test { .. } => {}
        AlertCommand::Outbox => {
            let rows = match open_existing(&path)? {
                Some(store) => store.outbox_undelivered()?,
                None => vec![],
            };
            if rows.is_empty() {
                println!("outbox empty: every notification was delivered");
            }
            for r in rows {
                println!(
                    "{} {:<7} `{}` {} attempts, next {}: {}",
                    r.delivery_id,
                    r.status,
                    sanitize(&r.channel, 80),
                    r.attempts,
                    r.next_attempt_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    sanitize(r.last_error.as_deref().unwrap_or("not attempted yet"), 300)
                );
            }
        }
    }
    Ok(exit::PASSED)
}
