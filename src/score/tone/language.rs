//! The answer's language, by `whatlang` (trigram profiles of 69 languages): its ISO 639-1
//! code, whatlang's confidence (0..1) and whether whatlang calls the guess reliable. Only
//! the first `MAX_CHARS` characters are read: enough for the detector, bounded on a
//! megabyte answer.

/// Characters of the answer the detector reads.
const MAX_CHARS: usize = 4000;

/// whatlang's languages, ISO 639-3 (as whatlang names them) → ISO 639-1.
const ISO_639_1: &[(&str, &str)] = &[
    ("epo", "eo"),
    ("eng", "en"),
    ("rus", "ru"),
    ("cmn", "zh"),
    ("spa", "es"),
    ("por", "pt"),
    ("ita", "it"),
    ("ben", "bn"),
    ("fra", "fr"),
    ("deu", "de"),
    ("ukr", "uk"),
    ("kat", "ka"),
    ("ara", "ar"),
    ("hin", "hi"),
    ("jpn", "ja"),
    ("heb", "he"),
    ("yid", "yi"),
    ("pol", "pl"),
    ("amh", "am"),
    ("jav", "jv"),
    ("kor", "ko"),
    ("nob", "nb"),
    ("dan", "da"),
    ("swe", "sv"),
    ("fin", "fi"),
    ("tur", "tr"),
    ("nld", "nl"),
    ("hun", "hu"),
    ("ces", "cs"),
    ("ell", "el"),
    ("bul", "bg"),
    ("bel", "be"),
    ("mar", "mr"),
    ("kan", "kn"),
    ("ron", "ro"),
    ("slv", "sl"),
    ("hrv", "hr"),
    ("srp", "sr"),
    ("mkd", "mk"),
    ("lit", "lt"),
    ("lav", "lv"),
    ("est", "et"),
    ("tam", "ta"),
    ("vie", "vi"),
    ("urd", "ur"),
    ("tha", "th"),
    ("guj", "gu"),
    ("uzb", "uz"),
    ("pan", "pa"),
    ("aze", "az"),
    ("ind", "id"),
    ("tel", "te"),
    ("pes", "fa"),
    ("mal", "ml"),
    ("ori", "or"),
    ("mya", "my"),
    ("nep", "ne"),
    ("sin", "si"),
    ("khm", "km"),
    ("tuk", "tk"),
    ("aka", "ak"),
    ("zul", "zu"),
    ("sna", "sn"),
    ("afr", "af"),
    ("lat", "la"),
    ("slk", "sk"),
    ("cat", "ca"),
    ("tgl", "tl"),
    ("hye", "hy"),
    ("cym", "cy"),
];

/// The ISO 639-1 codes the detector can report, for validating `expect.tone.language`.
pub fn known_codes() -> impl Iterator<Item = &'static str> {
    ISO_639_1.iter().map(|(_, two)| *two)
}

/// Whether `code` is an ISO 639-1 code the detector can report.
pub fn is_known(code: &str) -> bool {
    known_codes().any(|c| c == code)
}

/// The known two-letter code meant by `code` when it is written otherwise: upper case
/// (`EN`) or ISO 639-3 (`eng`, `deu`).
pub fn two_letter(code: &str) -> Option<&'static str> {
    let lower = code.to_ascii_lowercase();
    ISO_639_1
        .iter()
        .find(|(three, two)| *three == lower || *two == lower)
        .map(|(_, two)| *two)
}

/// A detected language.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    /// ISO 639-1.
    pub code: &'static str,
    pub confidence: f64,
    pub reliable: bool,
}

/// The language of `text`, `None` when the detector cannot tell (no letters, or a
/// language it does not know).
pub fn detect(text: &str) -> Option<Detected> {
    let head = match text.char_indices().nth(MAX_CHARS) {
        Some((i, _)) => &text[..i],
        None => text,
    };
    let info = whatlang::detect(head)?;
    let three = info.lang().code();
    let code = ISO_639_1.iter().find(|(t, _)| *t == three)?.1;
    Some(Detected {
        code,
        confidence: info.confidence(),
        reliable: info.is_reliable(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_english_and_german() {
        let en = detect("The warranty covers manufacturing defects for two years, but it does not cover water damage or accidents.")
            .expect("detected");
        assert_eq!(en.code, "en");
        assert!(en.reliable);
        let de = detect("Die Garantie deckt Herstellungsfehler für zwei Jahre ab, aber keine Wasserschäden oder Unfälle.")
            .expect("detected");
        assert_eq!(de.code, "de");
        assert_eq!(detect("1234 !!! ..."), None);
    }

    #[test]
    fn every_whatlang_language_has_a_code() {
        for lang in whatlang::Lang::all() {
            assert!(
                ISO_639_1.iter().any(|(t, _)| *t == lang.code()),
                "{}",
                lang.code()
            );
        }
        assert!(is_known("en") && is_known("de") && !is_known("xx") && !is_known("eng"));
    }
}
