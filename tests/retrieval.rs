//! Retrieval relevance end to end: an `http` probe of the simulator's RAG endpoint, whose
//! profile returns another case's passages (irrelevant retrieval) or none (empty
//! retrieval) for a share of questions. The measured rates hold the configured shares in
//! their intervals, a clean endpoint measures none, and a run compared with a clean
//! promoted baseline is flagged by the real binary, naming the metric.

#[path = "support/project.rs"]
mod project;

use probity::compare::FindingKind;
use probity::pipeline::RunOptions;
use probity::sim::{Profile, RetrievalFaults};
use probity::store::Store;
use project::{PLACEHOLDER, Project, start_sim, text};

/// Twelve support questions on distinct topics, each with its own passages.
const GOLDEN: &str = r#"name: rag
cases:
  - id: refunds
    messages: [{ role: user, content: "How many days do I have to request a refund?" }]
    context:
      - "Refunds can be requested within 30 days of purchase from the Orders page."
      - "Refunds are paid back to the original payment method within 5 business days."
    expect: { contains: ["30 days"] }
  - id: shipping
    messages: [{ role: user, content: "How long does standard shipping take to Canada?" }]
    context:
      - "Standard shipping to Canada takes 6 to 9 business days."
      - "Express shipping is available for an extra fee."
    expect: { contains: ["business days"] }
  - id: password
    messages: [{ role: user, content: "How do I reset my password?" }]
    context:
      - "To reset your password, click 'Forgot password' on the sign-in screen and follow the emailed link."
      - "Password reset links expire after 24 hours."
    expect: { contains: ["Forgot password"] }
  - id: invoice
    messages: [{ role: user, content: "Where can I download my invoices?" }]
    context:
      - "Invoices can be downloaded as PDF from Billing > Invoices."
      - "Invoices are issued on the first day of each billing cycle."
    expect: { contains: ["Billing"] }
  - id: two-factor
    messages: [{ role: user, content: "Can I enable two-factor authentication with an authenticator app?" }]
    context:
      - "Two-factor authentication supports authenticator apps and hardware security keys."
      - "Enable it under Security settings."
    expect: { contains: ["authenticator"] }
  - id: seats
    messages: [{ role: user, content: "How do I add more seats to our team plan?" }]
    context:
      - "Admins can add seats to a team plan from Admin > Seats; each seat is billed pro rata."
      - "Removing seats takes effect at the next renewal."
    expect: { contains: ["seats"] }
  - id: warranty
    messages: [{ role: user, content: "What does the blender warranty cover?" }]
    context:
      - "The blender warranty covers motor and manufacturing defects for two years."
      - "Warranty claims need the original receipt."
    expect: { contains: ["two years"] }
  - id: api-limits
    messages: [{ role: user, content: "What is the API rate limit per minute?" }]
    context:
      - "The API allows 600 requests per minute per key; excess requests get HTTP 429."
      - "Rate limit headers report the remaining quota."
    expect: { contains: ["600"] }
  - id: delete-account
    messages: [{ role: user, content: "How can I delete my account permanently?" }]
    context:
      - "To delete your account permanently, open Profile > Privacy and choose Delete account."
      - "Deleted accounts cannot be restored after 14 days."
    expect: { contains: ["Delete account"] }
  - id: store-hours
    messages: [{ role: user, content: "What are the opening hours of the Berlin store on Saturday?" }]
    context:
      - "The Berlin store opens 10:00 to 18:00 on Saturday and is closed on Sunday."
      - "Store hours may change on public holidays."
    expect: { contains: ["18:00"] }
  - id: data-export
    messages: [{ role: user, content: "Can I export my data as CSV?" }]
    context:
      - "Data export to CSV or JSON is available under Settings > Export."
      - "Large exports are emailed as a download link."
    expect: { contains: ["CSV"] }
  - id: gift-cards
    messages: [{ role: user, content: "Do gift cards expire?" }]
    context:
      - "Gift cards never expire and can be used on any order."
      - "Gift card balances are shown at checkout <script>alert(1)</script>."
    expect: { contains: ["never expire"] }
"#;

fn probe_yaml(samples: u32) -> String {
    format!(
        "name: bot\ntarget:\n  provider: http\n  url: {PLACEHOLDER}/rag/ask\n  body: {{ question: \"{{{{prompt}}}}\" }}\n  response: {{ text: /answer, context: /passages, context_item: /text }}\ntargets:\n  faulty: {{ url: FAULTY_URL/rag/ask }}\ngolden_sets: [golden-sets/rag.yaml]\nsamples: {samples}\nconcurrency: 8\ntimeout: 5s\n"
    )
}

fn faulty(seed: u64, empty: f64, irrelevant: f64) -> Profile {
    Profile {
        seed,
        retrieval: RetrievalFaults { empty, irrelevant },
        ..Profile::default()
    }
}

async fn project(
    samples: u32,
    faults: Profile,
) -> (Project, probity::sim::SimHandle, probity::sim::SimHandle) {
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe_yaml(samples)),
        ("golden-sets/rag.yaml", GOLDEN),
    ]);
    let golden = project.golden();
    let clean = start_sim(
        &golden,
        Profile {
            seed: 1,
            ..Profile::default()
        },
    )
    .await;
    let bad = start_sim(&golden, faults).await;
    project.aim(PLACEHOLDER, &clean.base_url());
    project.aim("FAULTY_URL", &bad.base_url());
    (project, clean, bad)
}

fn faulty_target() -> RunOptions {
    RunOptions {
        targets: vec!["faulty".into()],
        ..RunOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_measured_rates_hold_the_configured_shares() {
    let (project, _clean, _bad) = project(20, faulty(7, 0.1, 0.3)).await;
    let probe = project.probe("unused");
    let store = Store::open(&project.db()).unwrap();

    // The clean endpoint returns each question's own passages: every one has a relevant
    // passage, so neither rate moves off zero.
    let clean = project::run(&probe, &store, &RunOptions::default()).await;
    let q = &clean.targets[0].summary.quality;
    let (empty, irrelevant) = (q.empty_retrieval.unwrap(), q.irrelevant_retrieval.unwrap());
    assert_eq!((empty.count, empty.n), (0, 240), "{q:#?}");
    assert_eq!((irrelevant.count, irrelevant.n), (0, 240), "{q:#?}");
    let precision = q.context_precision.unwrap();
    assert!(precision.value > 0.9, "{precision:?}");
    assert_eq!(q.passages.unwrap().value, 2.0);

    let run = project::run(&probe, &store, &faulty_target()).await;
    let q = &run.targets[0].summary.quality;
    let empty = q.empty_retrieval.unwrap();
    let irrelevant = q.irrelevant_retrieval.unwrap();
    assert_eq!(empty.n, 240);
    eprintln!("empty {empty:?}\nirrelevant {:?}", q.irrelevant_retrieval);
    assert!(
        empty.ci[0] <= 0.1 && 0.1 <= empty.ci[1] && empty.count > 0,
        "empty retrieval {empty:?}"
    );
    // Irrelevant retrieval is counted over all answers (an empty retrieval is not
    // irrelevant, it is empty): the configured share of questions.
    assert!(
        irrelevant.ci[0] <= 0.3 && 0.3 <= irrelevant.ci[1],
        "irrelevant retrieval {irrelevant:?}"
    );
    let mean_passages = q.passages.unwrap().value;
    assert!(
        (1.6..1.95).contains(&mean_passages),
        "about 10% of answers carry no passage: {mean_passages}"
    );
    // The JSON document carries them under summary.quality, with per-passage relevance
    // in each answer's `retrieval` score.
    let doc = probity::report::json::run_document(&run);
    let quality = &doc["summary"]["quality"];
    for key in [
        "empty_retrieval",
        "irrelevant_retrieval",
        "context_precision",
        "passages",
    ] {
        assert!(quality[key].is_object(), "{key}: {quality}");
    }
    assert!(quality["irrelevant_retrieval"]["ci"].is_array());

    // The HTML report shows each case's passages with their relevance, escaped.
    let page = probity::report::html::render_run(
        &store,
        &run.run_id,
        &probity::report::html::Options::default(),
    )
    .unwrap();
    assert!(
        page.contains("rag/gift-cards · retrieval (sample"),
        "no retrieval section"
    );
    assert!(!page.contains("<script>"), "passages are escaped");
    // The clean run shows each case's own passages: the one with markup, escaped.
    let clean_page = probity::report::html::render_run(
        &store,
        &clean.run_id,
        &probity::report::html::Options::default(),
    )
    .unwrap();
    assert!(
        clean_page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !clean_page.contains("<script>"),
        "passages are escaped"
    );
    assert!(page.contains("irrelevant retrieval: no passage reaches relevance 0.15"));
    assert!(page.contains("empty retrieval: no context passages"));
    // The terminal summary lists the rates among the quality figures, the Markdown
    // summary in a line of its own.
    let mut shown = Vec::new();
    probity::report::terminal::write_outcome(
        &mut shown,
        &run,
        &probity::report::terminal::Style { color: false },
    )
    .unwrap();
    let shown = String::from_utf8(shown).unwrap();
    assert!(
        shown.contains("empty retrieval ") && shown.contains("irrelevant retrieval "),
        "{shown}"
    );
    let md = probity::report::markdown::markdown(&run);
    assert!(md.contains("Retrieval on faulty: empty "), "{md}");
    // And /metrics exports them per probe and target.
    let metrics = probity::metrics::Metrics::new();
    metrics.record_run(&probe, &run, &store);
    let text = metrics.encode();
    let line = text
        .lines()
        .find(|l| l.starts_with("probity_irrelevant_retrieval_ratio{") && l.contains("faulty"))
        .unwrap_or_else(|| panic!("{text}"));
    let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((value - irrelevant.value).abs() < 1e-12, "{line}");
    assert!(text.contains("probity_empty_retrieval_ratio{"));
    assert!(text.contains("probity_context_precision_ratio{"));
    // A custom alert rule over the rate fires on the faulty run, not on the clean one.
    let rule = probity::config::AlertRule {
        name: "bad-retrieval".into(),
        metric: "quality.irrelevant_retrieval".into(),
        op: probity::config::RuleOp::Gt,
        value: 0.05,
        critical: true,
    };
    let fired = probity::alert::rules::custom_signals(std::slice::from_ref(&rule), &run);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(
        fired[0].message.starts_with("Irrelevant-retrieval rate "),
        "{}",
        fired[0].message
    );
    assert!(probity::alert::rules::custom_signals(&[rule], &clean).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_baseline_flags_irrelevant_and_empty_retrieval() {
    let (project, _clean, _bad) = project(10, faulty(11, 0.15, 0.35)).await;
    let probe = project.probe("unused");
    let store = Store::open(&project.db()).unwrap();
    let first = project::run(&probe, &store, &RunOptions::default()).await;
    let out =
        project::probity_in(project.root(), &[], &["baseline", "promote", &first.run_id]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The same clean endpoint again: nothing about retrieval.
    let same = project::run(&probe, &store, &RunOptions::default()).await;
    assert!(
        !same
            .findings
            .iter()
            .any(|f| f.metric.ends_with("_retrieval")),
        "{:#?}",
        same.findings
    );

    // The real binary on the faulty target: findings naming both metrics, worded as the
    // reports show them ("irrelevant retrieval 35.0% vs 0.0% in baseline ...").
    let out = project::probity_in(
        project.root(),
        &[],
        &["run", "bot", "--target", "faulty", "--format", "json"],
    )
    .await;
    let stdout = text(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", text(&out.stderr)));
    let findings = doc["findings"].as_array().unwrap();
    for metric in ["irrelevant_retrieval", "empty_retrieval"] {
        let f = findings
            .iter()
            .find(|f| f["metric"] == metric)
            .unwrap_or_else(|| panic!("no {metric} finding in {findings:#?}"));
        let message = f["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{} ", metric.replace('_', " "))),
            "{message}"
        );
        assert!(message.contains("vs 0.0% in baseline"), "{message}");
    }
    assert_ne!(out.status.code(), Some(0), "drift fails the run");
    // The finding is a drift finding of the comparison.
    let run = project::run(&probe, &store, &faulty_target()).await;
    assert!(
        run.findings
            .iter()
            .any(|f| f.kind == FindingKind::Drift && f.metric == "irrelevant_retrieval"),
        "{:#?}",
        run.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embeddings_target_adds_a_cosine_per_passage() {
    let probe = format!(
        "{}embeddings: {{ base_url: {PLACEHOLDER}, model: sim-embed }}\n",
        probe_yaml(2)
    );
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe),
        ("golden-sets/rag.yaml", GOLDEN),
    ]);
    let sim = start_sim(&project.golden(), Profile::default()).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    project.aim("FAULTY_URL", &sim.base_url());
    let probe = project.probe("unused");
    let store = Store::open(&project.db()).unwrap();
    let run = project::run(&probe, &store, &RunOptions::default()).await;
    let summary = &run.targets[0].summary;
    // Question and passages are embedded once each and cached (12 questions, 24
    // passages), but the two samples of a case are scored concurrently and may both miss
    // the cache: between 36 and 72 calls, every one counted.
    let calls = summary.figures.scoring.calls;
    assert!((36..=72).contains(&calls), "{:?}", summary.figures.scoring);
    assert_eq!(sim.stats().embeddings, calls);
    assert_eq!(summary.figures.scoring.errors, 0);
    for case in &run.targets[0].cases {
        let cosine = &case.scores["retrieval_cosine"];
        assert!(
            cosine.informational && cosine.n == 2,
            "{}: {cosine:?}",
            case.id
        );
        let best = cosine.mean_value.unwrap();
        assert!(best > 0.2 && best <= 1.0, "{}: {best}", case.id);
    }
}

/// The passages the simulator returns for `rounds` askings of every question.
async fn retrievals(profile: Profile, rounds: usize) -> Vec<usize> {
    let project = Project::with_files(&[("golden-sets/rag.yaml", GOLDEN)]);
    let sim = start_sim(&project.golden(), profile).await;
    let client = reqwest::Client::new();
    let golden = project.golden();
    let mut out = Vec::new();
    for _ in 0..rounds {
        for case in &golden[0].cases {
            let body: serde_json::Value = client
                .post(format!("{}/rag/ask", sim.base_url()))
                .json(&serde_json::json!({ "question": case.prompt() }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let texts: Vec<String> = body["passages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["text"].as_str().unwrap().to_string())
                .collect();
            // 0: none, 1: its own, 2: another case's.
            out.push(match texts {
                t if t.is_empty() => 0,
                t if t == case.context => 1,
                _ => 2,
            });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn retrieval_faults_are_seeded_and_validated() {
    let a = retrievals(faulty(3, 0.2, 0.3), 10).await;
    assert_eq!(
        a,
        retrievals(faulty(3, 0.2, 0.3), 10).await,
        "same seed, same draws"
    );
    assert_ne!(
        a,
        retrievals(faulty(4, 0.2, 0.3), 10).await,
        "another seed, others"
    );
    let count = |k| a.iter().filter(|x| **x == k).count();
    assert_eq!(a.len(), 120);
    assert!(count(0) > 10 && count(2) > 20 && count(1) > 40, "{a:?}");
    assert!(
        retrievals(Profile::default(), 2)
            .await
            .iter()
            .all(|x| *x == 1)
    );

    let err = Profile::from_yaml(
        "retrieval:\n  empty: 0.6\n  irrelevant: 0.6\n",
        std::path::Path::new("p.yaml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("p.yaml:1:1") && err.contains("add up to 1.2"),
        "{err}"
    );
    let err = Profile::from_yaml(
        "retrieval: { irrelevant: 2 }\n",
        std::path::Path::new("p.yaml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("retrieval.irrelevant"), "{err}");
}
