//! Schedules as a probe file writes them (`schedule`, `timezone`, `jitter`, `catch_up`), with
//! their errors located in the file; and properties of `Schedule::next_after` tried by
//! machine: in UTC it agrees with a minute-by-minute scan of the POSIX rules, and in any
//! timezone ticks only move forward and a line with named hours never fires twice for the
//! same wall-clock time.

#[path = "support/project.rs"]
mod project;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use probity::config::{Schedule, load_paths};
use project::{PLACEHOLDER, Project};
use proptest::prelude::*;

fn load(body: &str) -> Result<probity::config::Probe, String> {
    let project = Project::new(PLACEHOLDER, body);
    let env = |name: &str| (name == "PROBITY_TEST_KEY").then(|| "sk-schedule-test".to_string());
    load_paths(&[project.probe_file()], &env)
        .map(|p| p.probes.into_iter().next().unwrap())
        .map_err(|d| d.to_string())
}

#[test]
fn a_probe_file_sets_schedule_timezone_jitter_and_catch_up() {
    let probe = load(
        "schedule: \"0 9 * * MON-FRI\"\ntimezone: Europe/Berlin\njitter: 30s\ncatch_up: false\n",
    )
    .unwrap();
    let schedule = probe.schedule.unwrap();
    assert_eq!(schedule.timezone, chrono_tz::Europe::Berlin);
    assert_eq!(probe.jitter, Duration::from_secs(30));
    assert!(!probe.catch_up);
    let defaults = load("schedule: \"@every 30s\"\n").unwrap();
    assert_eq!(defaults.jitter, Duration::ZERO);
    assert!(defaults.catch_up, "catch_up defaults to true");
    assert_eq!(
        defaults.schedule.unwrap().interval(),
        Some(Duration::from_secs(30))
    );
}

#[test]
fn schedule_errors_name_the_line_and_say_how_to_write_one() {
    // The probe body starts on line 9 of the file Project writes.
    let err = load("samples: 1\nschedule: \"*/15 * * *\"\n").unwrap_err();
    assert!(err.contains("bot.yaml:10:"), "{err}");
    assert!(
        err.contains("expected 5 fields (or 6 with seconds first), found 4"),
        "{err}"
    );
    assert!(
        err.contains("6 fields with seconds first"),
        "the hint: {err}"
    );
    let err = load("schedule: \"@every 10ms\"\n").unwrap_err();
    assert!(err.contains("at least 1s"), "{err}");
    let err = load("schedule: \"@daily\"\njitter: soon\n").unwrap_err();
    assert!(
        err.contains("bot.yaml:10:") && err.contains("invalid duration"),
        "{err}"
    );
    let err = load("schedule: \"@daily\"\ntimezone: Europe/Berlln\n").unwrap_err();
    assert!(err.contains("unknown timezone `Europe/Berlln`"), "{err}");
}

/// One field of a generated line: the values it allows, and how it is written.
#[derive(Debug, Clone)]
struct Field {
    text: String,
    values: BTreeSet<u32>,
    star: bool,
}

fn field(min: u32, max: u32) -> impl Strategy<Value = Field> {
    let all = move || (min..=max).collect::<BTreeSet<u32>>();
    prop_oneof![
        Just(Field {
            text: "*".into(),
            values: all(),
            star: true
        }),
        (min..=max).prop_map(|v| Field {
            text: v.to_string(),
            values: [v].into(),
            star: false
        }),
        (min..=max, min..=max).prop_map(|(a, b)| {
            let (a, b) = (a.min(b), a.max(b));
            Field {
                text: format!("{a}-{b}"),
                values: (a..=b).collect(),
                star: false,
            }
        }),
        (2..=7u32).prop_map(move |step| Field {
            text: format!("*/{step}"),
            values: (min..=max).step_by(step as usize).collect(),
            star: false
        }),
        (min..=max, min..=max).prop_map(|(a, b)| Field {
            text: format!("{a},{b}"),
            values: [a, b].into(),
            star: false
        }),
    ]
}

/// Day of week as POSIX writes it: 0-7 (Sunday both 0 and 7) or names.
fn day_of_week() -> impl Strategy<Value = Field> {
    let names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    prop_oneof![
        field(0, 6),
        Just(Field {
            text: "7".into(),
            values: [0].into(),
            star: false
        }),
        (1..=5usize, 1..=5usize).prop_map(move |(a, b)| {
            let (a, b) = (a.min(b), a.max(b));
            Field {
                text: format!("{}-{}", names[a].to_uppercase(), names[b]),
                values: (a as u32..=b as u32).collect(),
                star: false,
            }
        }),
    ]
}

/// Whether `t` (UTC) matches the POSIX line: day-of-month OR day-of-week when both are
/// restricted.
fn matches(t: DateTime<Utc>, f: &[Field; 5]) -> bool {
    let has = |f: &Field, v: u32| f.star || f.values.contains(&v);
    let [minute, hour, dom, month, dow] = f;
    let (d, w) = (t.day(), t.weekday().num_days_from_sunday());
    let day = if !dom.star && !dow.star {
        has(dom, d) || has(dow, w)
    } else {
        has(dom, d) && has(dow, w)
    };
    has(minute, t.minute()) && has(hour, t.hour()) && has(month, t.month()) && day
}

fn start() -> impl Strategy<Value = DateTime<Utc>> {
    // 2024-01-01 .. 2031-01-01, to the second.
    (1_704_067_200i64..1_924_992_000).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, timeout: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn in_utc_the_next_tick_is_the_first_matching_minute(
        minute in field(0, 59),
        hour in field(0, 23),
        dom in field(1, 28),
        dow in day_of_week(),
        after in start(),
    ) {
        let month = Field { text: "*".into(), values: (1..=12).collect(), star: true };
        let fields = [minute, hour, dom, month, dow];
        let line = fields.iter().map(|f| f.text.as_str()).collect::<Vec<_>>().join(" ");
        let schedule = Schedule::parse(&line, Tz::UTC).unwrap();
        let next = schedule.next_after(after).unwrap();
        // The scan: every minute after `after`, for at most 40 days.
        let mut t = Utc.timestamp_opt(after.timestamp() - after.timestamp() % 60, 0).unwrap();
        let mut expected = None;
        for _ in 0..(40 * 24 * 60) {
            t += chrono::Duration::minutes(1);
            if matches(t, &fields) {
                expected = Some(t);
                break;
            }
        }
        prop_assert_eq!(Some(next), expected, "{} after {}", line, after);
    }

    #[test]
    fn ticks_move_forward_and_a_named_hour_fires_once_per_wall_time(
        minute in field(0, 59),
        hour in field(0, 23),
        tz in prop_oneof![
            Just(chrono_tz::Europe::Berlin),
            Just(chrono_tz::America::New_York),
            Just(chrono_tz::Australia::Lord_Howe),
            Just(chrono_tz::Asia::Kolkata),
        ],
        after in start(),
    ) {
        let line = format!("{} {} * * *", minute.text, hour.text);
        let schedule = Schedule::parse(&line, tz).unwrap();
        let mut t = after;
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            let next = schedule.next_after(t).unwrap();
            prop_assert!(next > t, "{} went back from {} to {}", line, t, next);
            let wall = next.with_timezone(&tz).naive_local();
            if !hour.star {
                prop_assert!(seen.insert(wall), "{} fired twice at wall time {}", line, wall);
            }
            t = next;
        }
    }
}
