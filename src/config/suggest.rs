//! "Did you mean …?": the closest known name to a mistyped one.

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&word, &c.to_ascii_lowercase()),
                c,
            )
        })
        // Allow about one edit per three characters: `sampels` → `samples`, not `name` → `timeout`.
        .filter(|(distance, c)| *distance <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// A hint naming the closest candidate, or listing them all when none is close.
pub fn hint(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("expected one of: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["samples", "schedule", "name", "timeout"];
        assert_eq!(closest("sampels", keys), Some("samples"));
        assert_eq!(closest("shedule", keys), Some("schedule"));
        assert_eq!(closest("banana", keys), None);
    }
}
