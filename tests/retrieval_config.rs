//! The retrieval relevance settings of a probe: `retrieval.min_relevance` is checked with
//! its key path and position, and `embeddings:` names an OpenAI-compatible endpoint of its
//! own, which lets an `http` probe use `similar:`.

use std::path::PathBuf;

use probity::config::{Diagnostics, validate_paths};

fn env(_: &str) -> Option<String> {
    None
}

const GOLDEN: &str = "name: support\ncases:\n  - id: hello\n    messages: [{ role: user, content: hi }]\n    expect: { similar: { reference: hello } }\n";

const HTTP: &str = "name: bot\ntarget:\n  provider: http\n  url: http://127.0.0.1:9/rag/ask\n  body: { question: \"{{prompt}}\" }\n  response: { text: /answer, context: /passages, context_item: /text }\ngolden_sets: [golden-sets/support.yaml]\n";

fn validate(probe: &str) -> Result<probity::config::Probe, String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("probes/bot.yaml", probe),
        ("golden-sets/support.yaml", GOLDEN),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let paths: Vec<PathBuf> = vec![dir.path().join("probes"), dir.path().join("golden-sets")];
    validate_paths(&paths, &env)
        .map(|p| p.probes.into_iter().next().unwrap())
        .map_err(|d: Diagnostics| {
            d.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
}

#[test]
fn an_http_probe_needs_an_embeddings_target_for_similar() {
    let err = validate(HTTP).unwrap_err();
    assert!(
        err.contains("uses `similar:`, which needs an openai-compatible target for embeddings")
            && err.contains("embeddings: {"),
        "{err}"
    );
    let probe = validate(&format!(
        "{HTTP}embeddings: {{ base_url: http://127.0.0.1:9/v1, model: text-embedding-3-small }}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let e = probe.embeddings.expect("the embeddings target");
    assert_eq!(
        e.embeddings_model.as_deref(),
        Some("text-embedding-3-small")
    );
    assert_eq!(e.base_url, "http://127.0.0.1:9/v1");
    assert!(probe.target.retrieves());
    assert_eq!(
        probe.retrieval.min_relevance,
        probity::score::relevance::DEFAULT_MIN_RELEVANCE
    );
}

#[test]
fn the_embeddings_target_must_speak_openai() {
    let err = validate(&format!(
        "{HTTP}embeddings: {{ provider: anthropic, model: claude }}\n"
    ))
    .unwrap_err();
    assert!(
        err.contains("embeddings.provider: embeddings come from an openai-compatible endpoint, found `anthropic`"),
        "{err}"
    );
    let err = validate(&format!("{HTTP}embeddings: {{ base_url: x }}\n")).unwrap_err();
    assert!(err.contains("missing required key `model`"), "{err}");
}

#[test]
fn the_relevance_floor_is_a_share() {
    let ok = validate(&format!(
        "{HTTP}embeddings: {{ model: m }}\nretrieval: {{ min_relevance: 0.4 }}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.retrieval.min_relevance, 0.4);
    let err = validate(&format!(
        "{HTTP}embeddings: {{ model: m }}\nretrieval: {{ min_relevance: 1.5 }}\n"
    ))
    .unwrap_err();
    assert!(
        err.contains("probes/bot.yaml:9:")
            && err.contains("retrieval.min_relevance: must be between 0 and 1, found 1.5"),
        "{err}"
    );
    let err = validate(&format!("{HTTP}retrieval: {{ min_relevanse: 0.4 }}\n")).unwrap_err();
    assert!(err.contains("min_relevance"), "did you mean: {err}");
}
