//! How the store writes timestamps: UTC RFC 3339 with nine fractional digits and `Z`.
//! Fixed width, so text order is time order (SQL comparisons and ORDER BY rely on it), and
//! nanoseconds survive the round trip exactly.

use chrono::{DateTime, SecondsFormat, Utc};

pub(crate) fn format_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_and_exact() -> Result<(), chrono::ParseError> {
        let a = parse_ts("2024-07-18T09:30:00Z")?;
        let b = parse_ts("2024-07-18T09:30:00.123456789Z")?;
        assert_eq!(format_ts(&a), "2024-07-18T09:30:00.000000000Z");
        assert_eq!(format_ts(&a).len(), format_ts(&b).len());
        assert!(format_ts(&a) < format_ts(&b));
        assert_eq!(parse_ts(&format_ts(&b))?, b);
        Ok(())
    }
}
