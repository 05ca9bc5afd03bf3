//! Schedules: standard 5-field crontab lines (`minute hour day-of-month month day-of-week`,
//! Sunday = 0 or 7, names allowed, `@daily`-style macros), translated for the `cron` crate,
//! which wants a seconds field first and counts Sunday as 1. As in POSIX cron, when both
//! day-of-month and day-of-week are restricted, either one matching is enough (the `cron`
//! crate would require both), so such a line becomes two schedules and the earlier wins.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The line as the user wrote it.
    pub line: String,
    pub timezone: Tz,
    crons: Vec<cron::Schedule>,
}

/// What every cron error suggests.
pub const CRON_HINT: &str = "write 5 fields: minute hour day-of-month month day-of-week, e.g. `*/15 * * * *` or `0 9 * * 1-5`";

impl Schedule {
    /// Parses a crontab line for `timezone`.
    pub fn parse(line: &str, timezone: Tz) -> Result<Schedule, String> {
        let expanded = match line.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields.as_slice() else {
            return Err(format!(
                "invalid cron line `{line}`: expected 5 fields, found {}",
                fields.len()
            ));
        };
        let dow =
            translate_day_of_week(dow).map_err(|e| format!("invalid cron line `{line}`: {e}"))?;
        let variants = if *dom != "*" && dow != "*" {
            vec![(dom.to_string(), "*".to_string()), ("*".to_string(), dow)]
        } else {
            vec![(dom.to_string(), dow)]
        };
        let crons = variants
            .into_iter()
            .map(|(dom, dow)| {
                cron::Schedule::from_str(&format!("0 {minute} {hour} {dom} {month} {dow}"))
                    .map_err(|e| format!("invalid cron line `{line}`: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule {
            line: line.to_string(),
            timezone,
            crons,
        })
    }

    /// The first time strictly after `after` the schedule fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.crons
            .iter()
            .filter_map(|c| c.after(&local).next())
            .min()
            .map(|t| t.with_timezone(&Utc))
    }
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
                Some((a, b)) => (day(a)?, day(b)?),
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

    #[test]
    fn bad_lines_say_why() {
        assert_eq!(
            Schedule::parse("*/15 * * *", Tz::UTC).unwrap_err(),
            "invalid cron line `*/15 * * *`: expected 5 fields, found 4"
        );
        assert!(
            Schedule::parse("0 9 * * 8", Tz::UTC)
                .unwrap_err()
                .contains("day of week `8`")
        );
        assert!(Schedule::parse("61 * * * *", Tz::UTC).is_err());
    }
}
