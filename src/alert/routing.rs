//! Routing: a severity → the probe's route → channel names → `Notifier`s. Local channels
//! (console, file) are built here; network channels go through `network_channel`, the one
//! place that connects to `channels::build` (helper N's channels, joined at merge).

use std::collections::BTreeMap;
use std::time::Duration;

use super::Notifier;
use super::local::{ConsoleChannel, FileChannel};
use crate::compare::Severity;
use crate::config::AlertRouting;
use crate::config::Secret;
use crate::config::alerts::RawChannel;

/// Why the routing cannot deliver: a configuration error (exit 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoutingError {
    #[error("{file}: no route `{route}` in the alerts file (routes: {known})")]
    UnknownRoute {
        file: String,
        route: String,
        known: String,
    },
    #[error("{file}: no channel `{channel}` in the alerts file ({hint})")]
    UnknownChannel {
        file: String,
        channel: String,
        /// A did-you-mean, or the channels there are.
        hint: String,
    },
    /// A `${VAR}` of a channel this command would use is not set: silence is the worst
    /// failure of an alerting tool, so nothing runs until it is.
    #[error(
        "{at}: channel `{channel}` needs environment variable `{var}`, which is not set \
         (export {var}=… or write the value in the alerts file)"
    )]
    Unset {
        /// `file:line:col` of the value naming the variable.
        at: String,
        channel: String,
        var: String,
    },
    #[error("{file}: channel `{channel}`: {message}")]
    Channel {
        file: String,
        channel: String,
        message: String,
    },
}

fn file_of(routing: &AlertRouting) -> String {
    routing.file.display().to_string()
}

/// The channel names `route` gives a severity.
pub fn channels_for(
    routing: &AlertRouting,
    route: &str,
    severity: Severity,
) -> Result<Vec<String>, RoutingError> {
    let r = routing
        .routes
        .get(route)
        .ok_or_else(|| RoutingError::UnknownRoute {
            file: file_of(routing),
            route: route.to_string(),
            known: routing
                .routes
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    Ok(match severity {
        Severity::Critical => r.critical.clone(),
        Severity::Warning => r.warning.clone(),
        Severity::Info => r.info.clone(),
    })
}

/// Every channel name a route uses, any severity.
pub fn route_channels(routing: &AlertRouting, route: &str) -> Result<Vec<String>, RoutingError> {
    let mut all = Vec::new();
    for s in [Severity::Critical, Severity::Warning, Severity::Info] {
        for c in channels_for(routing, route, s)? {
            if !all.contains(&c) {
                all.push(c);
            }
        }
    }
    Ok(all)
}

/// A network channel (Slack, PagerDuty, webhook, Alertmanager, e-mail), built by
/// `channels::build`; the one seam between routing and the network channels.
pub fn network_channel(
    name: &str,
    raw: &RawChannel,
    timeout: Duration,
    secrets: &[Secret],
) -> Result<Box<dyn Notifier>, String> {
    super::channels::build(name, raw, timeout, secrets).map_err(|e| e.to_string())
}

/// The `Notifier`s of the named channels.
pub fn build_notifiers(
    routing: &AlertRouting,
    names: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, Box<dyn Notifier>>, RoutingError> {
    let mut out: BTreeMap<String, Box<dyn Notifier>> = BTreeMap::new();
    for name in names {
        let raw = routing
            .channels
            .get(name)
            .ok_or_else(|| RoutingError::UnknownChannel {
                file: file_of(routing),
                channel: name.clone(),
                hint: crate::config::did_you_mean(
                    name,
                    &routing
                        .channels
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                ),
            })?;
        if let Some(u) = routing.unset.get(name).and_then(|u| u.first()) {
            let d = &u.diagnostic;
            return Err(RoutingError::Unset {
                at: format!(
                    "{}:{}:{}",
                    crate::config::display_path(&d.file),
                    d.line,
                    d.col
                ),
                channel: name.clone(),
                var: u.name.clone(),
            });
        }
        let notifier: Box<dyn Notifier> = match raw {
            RawChannel::Console {} => Box::new(ConsoleChannel { name: name.clone() }),
            RawChannel::File { path } => Box::new(FileChannel {
                name: name.clone(),
                path: path.into(),
            }),
            other => {
                network_channel(name, other, timeout, &routing.secrets).map_err(|message| {
                    RoutingError::Channel {
                        file: file_of(routing),
                        channel: name.clone(),
                        message,
                    }
                })?
            }
        };
        out.insert(name.clone(), notifier);
    }
    Ok(out)
}
