//! The daemon's usage imports (issue 13): each `usage:` entry of the project is a job on
//! its own schedule, apart from the probes (it takes no `--max-running` slot: it sends no
//! probe). An import fetches the window since the provider's last one, less `overlap`
//! (providers revise their latest buckets; the window is replaced whole, so fetching a day
//! again never counts it twice), and stores it; the first import reaches back `since`.
//!
//! On start, a provider whose last import is older than its schedule's last tick (or that
//! was never imported) is imported at once, as a probe with `catch_up` runs. A failure is
//! logged (the admin key redacted) and retried at the next tick.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;

use chrono::{DateTime, Utc};

use crate::config::usage::UsageImportConfig;
use crate::store::Store;
use crate::usage::{self, Fetcher, UsageError};

/// One scheduled import.
struct Job {
    config: UsageImportConfig,
    /// The next tick; `None` when the schedule never fires again.
    tick: Option<DateTime<Utc>>,
    busy: Rc<Cell<bool>>,
}

/// Every scheduled import of the configuration.
#[derive(Default)]
pub struct UsageJobs {
    jobs: Vec<Job>,
}

impl UsageJobs {
    /// The jobs of `configs`; those whose last import in `db` missed a tick are due now.
    pub fn new(configs: Vec<UsageImportConfig>, db: &Path, now: DateTime<Utc>) -> UsageJobs {
        let store = Store::open(db).ok();
        let jobs = configs
            .into_iter()
            .map(|config| {
                let name = config.provider.name();
                let last = store
                    .as_ref()
                    .and_then(|s| s.last_usage_import(name).ok().flatten());
                let missed = match &last {
                    None => true,
                    Some(l) => config
                        .schedule
                        .next_after(l.imported_at)
                        .is_some_and(|t| t <= now),
                };
                let tick = if missed {
                    tracing::info!(
                        provider = name,
                        "usage import due now (never imported, or a tick was missed)"
                    );
                    Some(now)
                } else {
                    config.schedule.next_after(now)
                };
                Job {
                    config,
                    tick,
                    busy: Rc::new(Cell::new(false)),
                }
            })
            .collect();
        UsageJobs { jobs }
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// A reload: the new jobs; one whose provider and schedule did not change keeps its
    /// pending tick (and its running import).
    pub fn replace(&mut self, configs: Vec<UsageImportConfig>, now: DateTime<Utc>) {
        let mut old = std::mem::take(&mut self.jobs);
        for config in configs {
            let same = old.iter().position(|j| {
                j.config.provider == config.provider
                    && j.config.schedule.line == config.schedule.line
            });
            let job = match same {
                Some(i) => {
                    let mut job = old.swap_remove(i);
                    job.config = config;
                    job
                }
                None => Job {
                    tick: config.schedule.next_after(now),
                    config,
                    busy: Rc::new(Cell::new(false)),
                },
            };
            self.jobs.push(job);
        }
    }

    /// The earliest pending tick.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.jobs.iter().filter_map(|j| j.tick).min()
    }

    /// Starts every due import as a task of the current `LocalSet` (a skipped tick when
    /// the provider's previous import is still going).
    pub fn fire_due(&mut self, now: DateTime<Utc>, db: &Path) {
        for job in &mut self.jobs {
            if job.tick.is_none_or(|t| t > now) {
                continue;
            }
            job.tick = job.config.schedule.next_after(now);
            let provider = job.config.provider.name();
            if job.busy.get() {
                tracing::warn!(
                    provider,
                    "usage import tick skipped: the previous one is still going"
                );
                continue;
            }
            job.busy.set(true);
            let busy = Rc::clone(&job.busy);
            let config = job.config.clone();
            let db = db.to_path_buf();
            tokio::task::spawn_local(async move {
                match import_once(&config, &db, Utc::now()).await {
                    Ok(s) => tracing::info!(
                        provider = s.provider.as_str(),
                        window_start = %s.window_start,
                        usage_results = s.usage_rows,
                        cost_results = s.cost_rows,
                        pages = s.pages,
                        "usage imported"
                    ),
                    Err(e) => tracing::error!(
                        provider = config.provider.name(),
                        "usage import failed: {e}"
                    ),
                }
                busy.set(false);
            });
        }
    }
}

/// The window of the next import of `config` at `now`: from the last import's end less
/// the overlap, else `since` back; both rounded down to midnight UTC.
pub fn next_window_start(
    config: &UsageImportConfig,
    last_end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match last_end {
        Some(end) => {
            let overlap =
                chrono::Duration::from_std(config.overlap).unwrap_or(chrono::Duration::days(1));
            usage::import::midnight((end - overlap).min(now))
        }
        None => usage::window_since(now, config.first_window),
    }
}

/// One import of `config` into `db`.
pub async fn import_once(
    config: &UsageImportConfig,
    db: &Path,
    now: DateTime<Utc>,
) -> Result<usage::ImportSummary, UsageError> {
    let name = config.provider.name();
    let last_end = Store::open(db)?
        .last_usage_import(name)?
        .map(|l| l.window_end);
    let start = next_window_start(config, last_end, now);
    let fetcher = Fetcher::new(config.provider, &config.base_url, config.admin_key.clone())?;
    let summary = usage::fetch_window(&fetcher, start, now, config.hourly).await?;
    // Opened again after the fetch: a store is not held across the network wait.
    let store = Store::open(db)?;
    usage::import(&store, &summary, Utc::now())?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Document;

    fn config() -> UsageImportConfig {
        let doc = Document::parse(
            Path::new("probes/usage.yaml"),
            "usage: { provider: openai, admin_key: k, schedule: \"@hourly\", since: 3d, overlap: 1d }\n",
        )
        .expect("YAML");
        let (mut configs, problems) = crate::config::usage::validate_usage(&doc);
        assert!(problems.is_empty(), "{problems:?}");
        configs.remove(0)
    }

    #[test]
    fn the_window_continues_from_the_last_import_with_overlap() -> Result<(), chrono::ParseError> {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
        let now = t("2026-12-02T10:30:00Z")?;
        let c = config();
        assert_eq!(next_window_start(&c, None, now), t("2026-11-29T00:00:00Z")?);
        let last = t("2026-12-02T09:30:00Z")?;
        assert_eq!(
            next_window_start(&c, Some(last), now),
            t("2026-12-01T00:00:00Z")?
        );
        Ok(())
    }
}
