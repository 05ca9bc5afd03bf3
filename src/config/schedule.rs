//! Schedules: standard 5-field crontab lines (`minute hour day-of-month month day-of-week`,
//! Sunday = 0 or 7, day and month names allowed, `@daily`-style macros), a 6-field form
//! with seconds first (`*/10 * * * * *`), and `@every 30s`. Crontab lines are translated
//! for the `cron` crate, which wants a seconds field first and counts Sunday as 1. As in
//! POSIX cron, when both day-of-month and day-of-week are restricted, either one matching
//! is enough (the `cron` crate would require both), so such a line becomes two schedules
//! and the earlier wins.
//!
//! A line is read on the wall clock of the probe's timezone. Daylight-saving changes
//! follow Vixie cron's rule:
//! - a line that names its hours (`30 2 * * *`, `0 9-17 * * 1-5`) fires once per matching
//!   wall-clock time: in the repeated hour (autumn) only at the first pass; a time that
//!   does not exist (spring) fires once at the instant the clocks jump (02:30 in Berlin's
//!   skipped hour runs at 03:00 CEST), so no run is lost and none doubled;
//! - a line whose hour field is `*` (`*/15 * * * *`, `@hourly`) runs "every N minutes"
//!   and follows elapsed time instead: it fires at every instant whose local time
//!   matches, through both passes of the repeated hour, and the skipped hour has no
//!   instants, so the ticks stay evenly spaced in real time.
//!
//! `@every DURATION` (humantime: `30s`, `5m`, `1h 30m`; at least 1s) ignores the timezone:
//! it fires at whole multiples of the interval since 1970-01-01 00:00 UTC, so a restart
//! never shifts it.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The line as the user wrote it.
    pub line: String,
    pub timezone: Tz,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Cron schedules over the *naive* local wall clock (read as if it were UTC); the
    /// mapping to instants is ours, so daylight-saving changes follow the rule above.
    Cron {
        crons: Vec<cron::Schedule>,
        /// The hour field is `*`: follow elapsed time through DST changes.
        every_hour: bool,
    },
    Every(Duration),
}

/// What every cron error suggests.
pub const CRON_HINT: &str = "write 5 fields: minute hour day-of-month month day-of-week, e.g. \
    `*/15 * * * *` or `0 9 * * MON-FRI` (Sunday is 0 or 7); or 6 fields with seconds first, \
    e.g. `*/10 * * * * *`; or a macro: `@hourly`, `@daily`, `@weekly`, `@monthly`, \
    `@yearly`, `@every 30s`";

impl Schedule {
    /// Parses a schedule line for `timezone`.
    pub fn parse(line: &str, timezone: Tz) -> Result<Schedule, String> {
        let bad = |e: String| format!("invalid cron line `{line}`: {e}");
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("@every") {
            let interval = parse_every(rest.trim()).map_err(bad)?;
            return Ok(Schedule {
                line: line.to_string(),
                timezone,
                kind: Kind::Every(interval),
            });
        }
        let expanded = match trimmed {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            macro_ if macro_.starts_with('@') => {
                return Err(bad(format!("unknown macro `{macro_}`")));
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (second, minute, hour, dom, month, dow) = match fields.as_slice() {
            [minute, hour, dom, month, dow] => ("0", *minute, *hour, *dom, *month, *dow),
            [second, minute, hour, dom, month, dow] => {
                (*second, *minute, *hour, *dom, *month, *dow)
            }
            _ => {
                return Err(bad(format!(
                    "expected 5 fields (or 6 with seconds first), found {}",
                    fields.len()
                )));
            }
        };
        let dow = translate_day_of_week(dow).map_err(bad)?;
        let variants = if dom != "*" && dow != "*" {
            vec![(dom.to_string(), "*".to_string()), ("*".to_string(), dow)]
        } else {
            vec![(dom.to_string(), dow)]
        };
        let crons = variants
            .into_iter()
            .map(|(dom, dow)| {
                cron::Schedule::from_str(&format!("{second} {minute} {hour} {dom} {month} {dow}"))
                    .map_err(|e| bad(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule {
            line: line.to_string(),
            timezone,
            kind: Kind::Cron {
                crons,
                every_hour: hour == "*",
            },
        })
    }

    /// The interval of an `@every` schedule.
    pub fn interval(&self) -> Option<Duration> {
        match self.kind {
            Kind::Every(d) => Some(d),
            Kind::Cron { .. } => None,
        }
    }

    /// The first time strictly after `after` the schedule fires; `None` when it never
    /// fires again (`0 0 30 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(interval) => next_every(*interval, after),
            Kind::Cron { crons, every_hour } => crons
                .iter()
                .filter_map(|c| self.next_of(c, *every_hour, after))
                .min(),
        }
    }

    /// Walks `cron`'s wall-clock times after `after`'s local time, mapping each to the
    /// instant it fires at (see the module comment), until one lies after `after`. Mapped
    /// instants never decrease along the walk, so the first is the earliest.
    fn next_of(
        &self,
        cron: &cron::Schedule,
        every_hour: bool,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let tz = self.timezone;
        let local = after.with_timezone(&tz);
        let wall = local.naive_local().and_utc();
        // Clocks going back within the next hours repeat wall times already past: an
        // hourly line walks from that much earlier so their second pass is seen, and as
        // the mapped instants then go back and forth, takes the earliest over the window
        // of wall times that can still map before the ones beyond it.
        let back = if every_hour {
            let offset = |t: DateTime<Tz>| i64::from(t.offset().fix().local_minus_utc());
            let later = (after + chrono::Duration::hours(3)).with_timezone(&tz);
            (offset(local) - offset(later)).max(0)
        } else {
            0
        };
        let back = chrono::Duration::seconds(back);
        let mut best: Option<DateTime<Utc>> = None;
        // Bounded: in the worst case (a per-second line next to a repeated hour) the walk
        // crosses that hour twice, 7,200 candidates; the bound only guards against a time
        // zone table gone wrong.
        for candidate in cron.after(&(wall - back)).take(100_000) {
            if best.is_some() && candidate > wall + back {
                break;
            }
            let naive = candidate.naive_utc();
            let instant = match tz.from_local_datetime(&naive) {
                LocalResult::Single(t) => Some(t),
                LocalResult::Ambiguous(first, second) => {
                    if every_hour && first.with_timezone(&Utc) <= after {
                        Some(second)
                    } else {
                        Some(first)
                    }
                }
                LocalResult::None if every_hour => None,
                LocalResult::None => jump_after(tz, naive),
            };
            if let Some(t) = instant.map(|t| t.with_timezone(&Utc))
                && t > after
            {
                if back.is_zero() {
                    return Some(t);
                }
                best = Some(best.map_or(t, |b| b.min(t)));
            }
        }
        best
    }
}

/// The instant the clocks jump over the non-existent local time `naive` (the end of the
/// skipped interval): one second after the last existing second before it.
fn jump_after(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Tz>> {
    // Gaps are at most a few hours; walk back by minutes to the last existing one, then
    // by seconds forward to the first instant after it.
    let mut before = naive;
    for _ in 0..(6 * 60) {
        before -= chrono::Duration::minutes(1);
        if let Some(t) = tz.from_local_datetime(&before).latest() {
            let mut t = t.with_timezone(&Utc);
            for _ in 0..60 {
                t += chrono::Duration::seconds(1);
                let local = t.with_timezone(&tz);
                if local.naive_local() >= naive {
                    return Some(local);
                }
            }
            return Some(t.with_timezone(&tz));
        }
    }
    None
}

/// `@every DURATION`: humantime, at least one second.
fn parse_every(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("`@every` needs an interval, e.g. `@every 30s` or `@every 5m`".into());
    }
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`@every {text}`: {e} (write e.g. `30s`, `5m`, `1h 30m`)"))?;
    if d < Duration::from_secs(1) {
        return Err(format!("`@every {text}`: the interval must be at least 1s"));
    }
    Ok(d)
}

/// The next whole multiple of `interval` since the Unix epoch after `after`.
fn next_every(interval: Duration, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let step = i128::try_from(interval.as_millis()).ok()?;
    let now = i128::from(after.timestamp_millis());
    let next = (now.div_euclid(step) + 1) * step;
    DateTime::from_timestamp_millis(i64::try_from(next).ok()?)
}

const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn day(token: &str) -> Result<u32, String> {
    let lower = token.to_ascii_lowercase();
    if let Some(i) = DAY_NAMES.iter().position(|d| lower == *d) {
        return Ok(i as u32);
    }
    match token.parse::<u32>() {
        Ok(n @ 0..=7) => Ok(n),
        _ => Err(format!("day of week `{token}` is not 0-7 or sun-sat")),
    }
}

/// POSIX day-of-week (0-7, Sunday 0 and 7) → an explicit list for `cron` (1-7, Sunday 1).
fn translate_day_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".to_string());
    }
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step `{s}` in day of week"))?,
            ),
            None => (part, 1),
        };
        let (first, last) = match range {
            "*" => (0, 6),
            r => match r.split_once('-') {
                // `SAT-SUN`: Sunday ending a range is day 7.
                Some((a, b)) => match (day(a)?, day(b)?) {
                    (a, 0) if a > 0 => (a, 7),
                    ab => ab,
                },
                None if step > 1 => (day(r)?, 6),
                None => (day(r)?, day(r)?),
            },
        };
        if first > last {
            return Err(format!("day-of-week range `{range}` runs backwards"));
        }
        for d in (first..=last).step_by(step as usize) {
            days[(d % 7) as usize] = true;
        }
    }
    Ok(days
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .map(|(d, _)| (d + 1).to_string())
        .collect::<Vec<_>>()
        .join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn weekdays_mean_monday_to_friday() {
        let s = Schedule::parse("0 9 * * 1-5", Tz::UTC).unwrap();
        // 2026-11-28 is a Saturday: the next run is Monday 30th at 09:00.
        let next = s.next_after(utc(2026, 11, 28, 12, 0)).unwrap();
        assert_eq!(next, utc(2026, 11, 30, 9, 0));
        assert_eq!(next.weekday(), Weekday::Mon);
        // Friday 09:00 fires, Saturday does not.
        let fri = s.next_after(utc(2026, 11, 27, 8, 0)).unwrap();
        assert_eq!(fri.weekday(), Weekday::Fri);
    }

    #[test]
    fn sunday_is_zero_and_seven_and_names_work() {
        for line in ["0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "@weekly"] {
            let s = Schedule::parse(line, Tz::UTC).unwrap();
            assert_eq!(
                s.next_after(utc(2026, 11, 28, 0, 0)).unwrap().weekday(),
                Weekday::Sun,
                "{line}"
            );
        }
        // Friday to Sunday wraps past the end of the week.
        let s = Schedule::parse("0 0 * * 5-7", Tz::UTC).unwrap();
        let days: Vec<Weekday> = (0..3)
            .scan(utc(2026, 11, 26, 1, 0), |t, _| {
                *t = s.next_after(*t).unwrap();
                Some(t.weekday())
            })
            .collect();
        assert_eq!(days, [Weekday::Fri, Weekday::Sat, Weekday::Sun]);
    }

    #[test]
    fn steps_and_minutes() {
        let s = Schedule::parse("*/15 * * * *", Tz::UTC).unwrap();
        assert_eq!(
            s.next_after(utc(2026, 1, 1, 10, 7)).unwrap(),
            utc(2026, 1, 1, 10, 15)
        );
        let s = Schedule::parse("0 0 * * */2", Tz::UTC).unwrap();
        // Sunday, Tuesday, Thursday, Saturday.
        assert_eq!(
            s.next_after(utc(2026, 11, 29, 1, 0)).unwrap().weekday(),
            Weekday::Tue
        );
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // POSIX: the 1st of the month OR any Monday.
        let s = Schedule::parse("0 12 1 * 1", Tz::UTC).unwrap();
        assert_eq!(
            s.next_after(utc(2026, 11, 28, 0, 0)).unwrap(),
            utc(2026, 11, 30, 12, 0)
        );
        assert_eq!(
            s.next_after(utc(2026, 11, 30, 13, 0)).unwrap(),
            utc(2026, 12, 1, 12, 0)
        );
    }

    #[test]
    fn timezone_is_honoured() {
        let s = Schedule::parse("0 9 * * *", chrono_tz::Europe::Berlin).unwrap();
        let next = s.next_after(utc(2026, 11, 28, 0, 0)).unwrap();
        assert_eq!(next.hour(), 8, "09:00 in Berlin is 08:00 UTC in winter");
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    /// `(line, timezone, start, the next ticks in UTC)`: each tick is `next_after` the one
    /// before, so a doubled or lost tick shows as a wrong row.
    #[allow(clippy::type_complexity)]
    fn table() -> Vec<(&'static str, Tz, DateTime<Utc>, Vec<DateTime<Utc>>)> {
        use chrono_tz::America::New_York as NY;
        use chrono_tz::Europe::Berlin as BER;
        let u = Tz::UTC;
        vec![
            // POSIX day-of-week: 1-5 is Monday to Friday; 2026-11-28 is a Saturday.
            (
                "0 9 * * 1-5",
                u,
                at(2026, 11, 27, 10, 0, 0),
                vec![at(2026, 11, 30, 9, 0, 0), at(2026, 12, 1, 9, 0, 0)],
            ),
            // Names, any case; Sunday ends a range as 7.
            (
                "0 9 * * MON-FRI",
                u,
                at(2026, 11, 27, 10, 0, 0),
                vec![at(2026, 11, 30, 9, 0, 0)],
            ),
            (
                "0 0 * * sat-sun",
                u,
                at(2026, 11, 26, 0, 0, 0),
                vec![
                    at(2026, 11, 28, 0, 0, 0),
                    at(2026, 11, 29, 0, 0, 0),
                    at(2026, 12, 5, 0, 0, 0),
                ],
            ),
            (
                "0 0 1 JAN-MAR,dec *",
                u,
                at(2026, 3, 2, 0, 0, 0),
                vec![at(2026, 12, 1, 0, 0, 0), at(2027, 1, 1, 0, 0, 0)],
            ),
            (
                "0 0 * * 7",
                u,
                at(2026, 11, 26, 0, 0, 0),
                vec![at(2026, 11, 29, 0, 0, 0)],
            ),
            // Month ends: the 31st skips the months without one.
            (
                "0 0 31 * *",
                u,
                at(2026, 3, 31, 1, 0, 0),
                vec![
                    at(2026, 5, 31, 0, 0, 0),
                    at(2026, 7, 31, 0, 0, 0),
                    at(2026, 8, 31, 0, 0, 0),
                ],
            ),
            // Leap days: February 29th only in leap years.
            (
                "0 12 29 2 *",
                u,
                at(2026, 3, 1, 0, 0, 0),
                vec![at(2028, 2, 29, 12, 0, 0), at(2032, 2, 29, 12, 0, 0)],
            ),
            (
                "@every 30s",
                u,
                at(2026, 12, 1, 12, 0, 10),
                vec![at(2026, 12, 1, 12, 0, 30), at(2026, 12, 1, 12, 1, 0)],
            ),
            // @every ignores the timezone: whole multiples of 90 minutes since the epoch.
            (
                "@every 1h 30m",
                BER,
                at(2026, 12, 1, 0, 0, 0),
                vec![at(2026, 12, 1, 1, 30, 0), at(2026, 12, 1, 3, 0, 0)],
            ),
            // Six fields: seconds first.
            (
                "*/20 * * * * *",
                u,
                at(2026, 12, 1, 12, 0, 5),
                vec![
                    at(2026, 12, 1, 12, 0, 20),
                    at(2026, 12, 1, 12, 0, 40),
                    at(2026, 12, 1, 12, 1, 0),
                ],
            ),
            (
                "30 0 9 * * mon",
                u,
                at(2026, 11, 28, 0, 0, 0),
                vec![at(2026, 11, 30, 9, 0, 30)],
            ),
            // Berlin, spring (2026-03-29, 02:00 CET -> 03:00 CEST): 02:30 does not exist and
            // runs once when the clocks jump (01:00 UTC).
            (
                "30 2 * * *",
                BER,
                at(2026, 3, 28, 0, 0, 0),
                vec![
                    at(2026, 3, 28, 1, 30, 0),
                    at(2026, 3, 29, 1, 0, 0),
                    at(2026, 3, 30, 0, 30, 0),
                ],
            ),
            // Both times of the skipped hour collapse into that one run.
            (
                "0,30 2 * * *",
                BER,
                at(2026, 3, 28, 23, 0, 0),
                vec![at(2026, 3, 29, 1, 0, 0), at(2026, 3, 30, 0, 0, 0)],
            ),
            // Berlin, autumn (2026-10-25, 03:00 CEST -> 02:00 CET): 02:30 comes twice and
            // runs once, at the first.
            (
                "30 2 * * *",
                BER,
                at(2026, 10, 24, 0, 0, 0),
                vec![
                    at(2026, 10, 24, 0, 30, 0),
                    at(2026, 10, 25, 0, 30, 0),
                    at(2026, 10, 26, 1, 30, 0),
                ],
            ),
            // Hourly lines follow elapsed time: one run every real hour through both changes.
            (
                "0 * * * *",
                BER,
                at(2026, 3, 28, 23, 30, 0),
                vec![
                    at(2026, 3, 29, 0, 0, 0),
                    at(2026, 3, 29, 1, 0, 0),
                    at(2026, 3, 29, 2, 0, 0),
                ],
            ),
            (
                "@hourly",
                BER,
                at(2026, 10, 24, 23, 30, 0),
                vec![
                    at(2026, 10, 25, 0, 0, 0),
                    at(2026, 10, 25, 1, 0, 0),
                    at(2026, 10, 25, 2, 0, 0),
                ],
            ),
            // New York, spring (2026-03-08, 02:00 EST -> 03:00 EDT at 07:00 UTC).
            (
                "30 2 * * *",
                NY,
                at(2026, 3, 7, 0, 0, 0),
                vec![
                    at(2026, 3, 7, 7, 30, 0),
                    at(2026, 3, 8, 7, 0, 0),
                    at(2026, 3, 9, 6, 30, 0),
                ],
            ),
            // New York, autumn (2026-11-01, 02:00 EDT -> 01:00 EST at 06:00 UTC): 01:30 once.
            (
                "30 1 * * *",
                NY,
                at(2026, 10, 31, 12, 0, 0),
                vec![at(2026, 11, 1, 5, 30, 0), at(2026, 11, 2, 6, 30, 0)],
            ),
            (
                "*/20 * * * *",
                NY,
                at(2026, 11, 1, 5, 30, 0),
                vec![
                    at(2026, 11, 1, 5, 40, 0),
                    at(2026, 11, 1, 6, 0, 0),
                    at(2026, 11, 1, 6, 20, 0),
                    at(2026, 11, 1, 6, 40, 0),
                    at(2026, 11, 1, 7, 0, 0),
                ],
            ),
            (
                "*/20 * * * *",
                NY,
                at(2026, 3, 8, 6, 30, 0),
                vec![
                    at(2026, 3, 8, 6, 40, 0),
                    at(2026, 3, 8, 7, 0, 0),
                    at(2026, 3, 8, 7, 20, 0),
                ],
            ),
        ]
    }

    #[test]
    fn schedules_from_the_table() {
        for (line, tz, start, expected) in table() {
            let s = Schedule::parse(line, tz).unwrap_or_else(|e| panic!("{line}: {e}"));
            let mut t = start;
            let mut got = Vec::new();
            for _ in &expected {
                t = s
                    .next_after(t)
                    .unwrap_or_else(|| panic!("{line}: no tick after {t}"));
                got.push(t);
            }
            assert_eq!(got, expected, "{line} in {tz} from {start}");
        }
    }

    #[test]
    fn a_named_hour_runs_once_a_day_across_a_whole_year_of_dst_changes() {
        use chrono_tz::America::New_York as NY;
        use chrono_tz::Europe::Berlin as BER;
        for (line, tz) in [("30 2 * * *", BER), ("30 1 * * *", NY), ("30 2 * * *", NY)] {
            let s = Schedule::parse(line, tz).unwrap();
            let mut t = at(2025, 12, 31, 12, 0, 0);
            let mut days = std::collections::BTreeSet::new();
            let mut count = 0;
            loop {
                let next = s.next_after(t).unwrap();
                assert!(next > t);
                if next >= at(2026, 12, 31, 12, 0, 0) {
                    break;
                }
                t = next;
                count += 1;
                assert!(
                    days.insert(t.with_timezone(&tz).date_naive()),
                    "{line}: twice on {t}"
                );
            }
            assert_eq!(count, 365, "{line} in {tz}");
        }
    }

    #[test]
    fn a_tick_asked_for_from_inside_the_repeated_hour_is_not_in_the_past() {
        // 02:10 CET, the second pass of Berlin's repeated hour: 02:30 already ran (CEST).
        let s = Schedule::parse("30 2 * * *", chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(
            s.next_after(at(2026, 10, 25, 1, 10, 0)),
            Some(at(2026, 10, 26, 1, 30, 0))
        );
        // Hourly: 02:30 CET is still to come.
        let s = Schedule::parse("30 * * * *", chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(
            s.next_after(at(2026, 10, 25, 1, 10, 0)),
            Some(at(2026, 10, 25, 1, 30, 0))
        );
    }

    #[test]
    fn every_needs_a_whole_interval() {
        assert!(
            Schedule::parse("@every", Tz::UTC)
                .unwrap_err()
                .contains("needs an interval")
        );
        assert!(
            Schedule::parse("@every 500ms", Tz::UTC)
                .unwrap_err()
                .contains("at least 1s")
        );
        assert!(Schedule::parse("@every soon", Tz::UTC).is_err());
        assert!(
            Schedule::parse("@often", Tz::UTC)
                .unwrap_err()
                .contains("unknown macro")
        );
        assert_eq!(
            Schedule::parse("@every 5m", Tz::UTC).unwrap().interval(),
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn a_date_that_never_comes_has_no_next_tick() {
        let s = Schedule::parse("0 0 30 2 *", Tz::UTC).unwrap();
        assert_eq!(s.next_after(at(2026, 1, 1, 0, 0, 0)), None);
    }

    #[test]
    fn bad_lines_say_why() {
        assert_eq!(
            Schedule::parse("*/15 * * *", Tz::UTC).unwrap_err(),
            "invalid cron line `*/15 * * *`: expected 5 fields (or 6 with seconds first), found 4"
        );
        assert!(
            Schedule::parse("0 9 * * 8", Tz::UTC)
                .unwrap_err()
                .contains("day of week `8`")
        );
        assert!(Schedule::parse("61 * * * *", Tz::UTC).is_err());
    }
}
