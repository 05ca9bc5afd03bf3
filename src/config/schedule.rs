//! Schedules: standard 5-field crontab lines (POSIX day-of-week, Sunday = 0 or 7),
//! translated for the `cron` crate (seconds first, Sunday = 1), with an optional timezone.

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The line as the user wrote it.
    pub line: String,
    pub cron: cron::Schedule,
    pub timezone: chrono_tz::Tz,
}
