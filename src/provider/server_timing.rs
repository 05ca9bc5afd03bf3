//! The `Server-Timing` response header (W3C Server Timing): `name;dur=120;desc="…"` metrics,
//! comma separated, in one or several header lines. Each metric with a `dur` becomes a
//! server component (ms). A metric without `dur` is a marker (`cache;desc=hit`), not time
//! spent, so it is not a component. The same name twice is summed (two calls to `db`).
//!
//! Parsed by hand and forgivingly, as the spec asks: a metric that does not parse is
//! skipped up to the next comma outside a quoted string, the rest still counts. Only the
//! first `dur` of a metric is read; a negative, non-finite or unparsable one is dropped.

use std::collections::BTreeMap;

use crate::runner::timings::MAX_SERVER_COMPONENTS;

/// Longest component name kept: names become report rows and `/metrics` labels.
const MAX_NAME: usize = 64;

/// The components of every `Server-Timing` value, in ms.
pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for value in values {
        let mut p = Cursor {
            s: value.as_bytes(),
            i: 0,
        };
        while !p.done() {
            if let Some((name, Some(dur))) = metric(&mut p) {
                if out.len() < MAX_SERVER_COMPONENTS || out.contains_key(&name) {
                    *out.entry(name).or_default() += dur;
                }
            }
            p.skip_to_comma();
        }
    }
    out
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // Token characters are ASCII, so this slice is UTF-8.
        std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default()).unwrap_or_default()
    }
    /// A quoted string (the cursor on its opening quote), with `\` escapes undone.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.i += 1;
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.i += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    /// Moves past the next comma that is not inside a quoted string (or to the end).
    fn skip_to_comma(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => {
                    self.i += 1;
                    return;
                }
                b'"' => {
                    self.quoted();
                }
                _ => self.i += 1,
            }
        }
    }
}

/// One metric: its name and the first `dur`, if it has a valid one.
fn metric(p: &mut Cursor<'_>) -> Option<(String, Option<f64>)> {
    p.ows();
    let name = p.token().to_owned();
    if name.is_empty() || name.len() > MAX_NAME {
        return None;
    }
    let mut dur: Option<Option<f64>> = None;
    loop {
        p.ows();
        if p.peek() != Some(b';') {
            break;
        }
        p.i += 1;
        p.ows();
        let param = p.token().to_ascii_lowercase();
        p.ows();
        let value = if p.peek() == Some(b'=') {
            p.i += 1;
            p.ows();
            if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token().to_owned()
            }
        } else {
            String::new()
        };
        if param == "dur" && dur.is_none() {
            dur = Some(
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite() && *d >= 0.0),
            );
        }
        if param.is_empty() {
            // Not a parameter: the rest of this metric cannot be read.
            return Some((name, None));
        }
    }
    p.ows();
    match p.peek() {
        None | Some(b',') => Some((name, dur.flatten())),
        // Trailing garbage: the metric is not what the header says it is.
        Some(_) => None,
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn one(v: &str) -> Vec<(String, f64)> {
        parse([v]).into_iter().collect()
    }

    #[test]
    fn reads_the_spec_examples() {
        assert_eq!(
            one("retrieval;dur=120, generation;dur=840"),
            vec![("generation".into(), 840.0), ("retrieval".into(), 120.0)]
        );
        // From the W3C draft: a marker without dur, a quoted description, a bare one.
        assert_eq!(
            one(r#"miss, db;dur=53, app;dur=47.2, cache;desc="Cache Read";dur=23.2"#),
            vec![
                ("app".into(), 47.2),
                ("cache".into(), 23.2),
                ("db".into(), 53.0)
            ]
        );
        assert_eq!(
            one("total;dur=123.4;desc=\"a, b; dur=9\""),
            vec![("total".into(), 123.4)]
        );
        assert_eq!(one("edge; DUR = 5 ; dur=7"), vec![("edge".into(), 5.0)]);
    }

    #[test]
    fn several_lines_and_repeated_names_add_up() {
        let got = parse(["db;dur=10", "db;dur=5, render;dur=1"]);
        assert_eq!(got.get("db"), Some(&15.0));
        assert_eq!(got.get("render"), Some(&1.0));
    }

    #[test]
    fn bad_metrics_are_skipped_and_the_rest_kept() {
        assert_eq!(
            one(r#"bad name;dur=1, ;dur=2, neg;dur=-3, nan;dur=NaN, q;desc="un,closed, ok;dur=4"#),
            vec![]
        );
        assert_eq!(
            one("x;dur=1e400, ok;dur=4, inf;dur=inf"),
            vec![("ok".into(), 4.0)]
        );
        assert_eq!(one("a;dur=1 junk, b;dur=2"), vec![("b".into(), 2.0)]);
        assert_eq!(one(""), vec![]);
        let long = format!("{};dur=1", "n".repeat(MAX_NAME + 1));
        assert_eq!(one(&long), vec![]);
    }

    #[test]
    fn the_number_of_components_is_bounded() {
        let many: Vec<String> = (0..100).map(|i| format!("c{i};dur=1")).collect();
        assert_eq!(
            parse([many.join(",").as_str()]).len(),
            MAX_SERVER_COMPONENTS
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, timeout: 5000, ..ProptestConfig::default() })]
        #[test]
        fn any_header_parses_without_panic(v in r#"[a-z;=,"\\ \t.0-9\-é]{0,80}"#) {
            for (name, dur) in parse([v.as_str()]) {
                prop_assert!(!name.is_empty() && name.len() <= MAX_NAME);
                prop_assert!(dur.is_finite() && dur >= 0.0);
            }
        }
    }
}
