//! Durations as people write them in config: `250ms`, `30s`, `5m`, `1h 30m`.

use std::time::Duration;

/// Parses a duration with a unit; a bare number is refused because `30` could mean
/// seconds or milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.parse::<f64>().is_ok() {
        return Err(format!("`{trimmed}` has no unit"));
    }
    humantime::parse_duration(trimmed).map_err(|_| format!("`{trimmed}` is not a duration"))
}

/// The hint every duration error carries.
pub const DURATION_HINT: &str = "write a number and a unit, e.g. 250ms, 30s, 5m";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_refuses_bare_numbers() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("30"), Err("`30` has no unit".to_string()));
        assert_eq!(
            parse_duration("soon"),
            Err("`soon` is not a duration".to_string())
        );
    }
}
