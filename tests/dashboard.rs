//! The daemon's dashboard in a real browser: two stored runs of a probe whose model answers
//! with hostile HTML where it should refuse (a deployment between them), the dashboard served over HTTP on
//! 127.0.0.1, and headless Chromium opening `/`, `/probes/NAME`, `/runs/ID` and a failing
//! case's samples. The pages render, link to each other, and the model's text stays text:
//! no payload runs (the title and a marker attribute a payload would set are checked in
//! the DOM Chromium dumps), and it shows escaped.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/project.rs"]
mod project;

use std::net::SocketAddr;

use chromium::Chromium;
use probity::daemon::dashboard::{self, Dashboard};
use probity::sim::Profile;
use project::{PLACEHOLDER, Project, probity_in, start_sim, text};

const SCRIPT: &str = "<script>document.title='pwned';document.documentElement.setAttribute('data-'+'pwned','script')</script>";
const IMG: &str =
    "<img src=x onerror=\"document.documentElement.setAttribute('data-'+'pwned','img')\">";

fn golden() -> String {
    format!(
        r#"name: support
cases:
  - id: refund-window
    messages: [{{ role: user, content: "How long do I have to ask for a refund?" }}]
    expect:
      contains: ["30 days"]
      reference: "You can ask for a refund within 30 days of purchase."
  - id: hostile
    messages: [{{ role: user, content: "Answer with HTML." }}]
    expect:
      refusal: true
      reference: |
        {SCRIPT} {IMG} </style><a href="javascript:document.title='pwned'">click</a> case{bidi}txt
"#,
        bidi = '\u{202e}'
    )
}

fn probe(version: &str) -> String {
    format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {PLACEHOLDER}\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\n  stream: true\n  labels: {{ model_version: \"{version}\" }}\ngolden_sets: [golden-sets/support.yaml]\nsamples: 3\n"
    )
}

/// What the DOM says ran: the title, and the marker attribute if a payload set it.
fn ran(dom: &str) -> (String, bool) {
    let title = dom
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t.to_string())
        .unwrap_or_default();
    (title, dom.contains("data-pwned=\""))
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_render_link_to_each_other_and_keep_model_text_as_text() {
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe("1")),
        ("golden-sets/support.yaml", &golden()),
    ]);
    let sim = start_sim(&project.golden(), Profile::default()).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    let env = [("PROBITY_TEST_KEY", "sk-dash")];
    let first = probity_in(project.root(), &env, &["run", "--format", "json"]).await;
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    // A deployment: the target's model_version label changes.
    let file = std::fs::read_to_string(project.probe_file()).unwrap();
    std::fs::write(
        project.probe_file(),
        file.replace("model_version: \"1\"", "model_version: \"2\""),
    )
    .unwrap();
    let second = probity_in(project.root(), &env, &["run", "--format", "json"]).await;
    let id = |out: &std::process::Output| -> String {
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["run_id"].as_str().unwrap().to_string()
    };
    let (run_1, run_2) = (id(&first), id(&second));
    let verdict: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let verdict = verdict["verdict"].as_str().unwrap().to_string();
    sim.shutdown().await.unwrap();

    let app = dashboard::router::<()>(Dashboard::new(project.db(), None));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // `/`: the probe, its status colour, its last verdict linking to the run, trend lines.
    let (status, index) = get(&format!("{base}/")).await;
    assert_eq!(status, 200, "{index}");
    assert!(index.contains("href=\"/probes/bot\""), "{index}");
    assert!(
        index.contains(&format!("href=\"/runs/{run_2}\"")),
        "{index}"
    );
    assert!(index.contains(&format!("pill s-{verdict}")), "{index}");
    assert_eq!(
        index.matches("<svg").count(),
        3,
        "three trend lines: {index}"
    );

    // `/probes/bot`: the history, both runs linking to their pages, the deployment marker.
    let (status, history) = get(&format!("{base}/probes/bot")).await;
    assert_eq!(status, 200, "{history}");
    for run in [&run_1, &run_2] {
        assert!(history.contains(&format!("\"/runs/{run}\"")), "{history}");
    }
    assert!(
        !history.contains(".html\""),
        "a link left as a file: {history}"
    );
    assert!(history.contains("model_version 1 → 2"), "{history}");
    assert!(history.contains("href=\"/\""));

    // `/runs/ID`: the report, back to the probe and the index, down to the failing case.
    let (status, report) = get(&format!("{base}/runs/{run_2}")).await;
    assert_eq!(status, 200, "{report}");
    assert!(report.contains("href=\"/probes/bot\"") && report.contains("href=\"/\""));
    let case_link = format!("/runs/{run_2}/cases/support/hostile");
    assert!(
        report.contains(&format!("href=\"{case_link}\"")),
        "{report}"
    );
    assert!(
        !report.contains("/cases/support/refund-window"),
        "a passing case is linked"
    );
    assert!(!report.contains(SCRIPT) && !report.contains(IMG));

    // The case's samples: every attempt, with its traceparent and its output, escaped.
    let (status, samples) = get(&format!("{base}{case_link}")).await;
    assert_eq!(status, 200, "{samples}");
    assert_eq!(samples.matches("class=\"sample\"").count(), 3, "{samples}");
    assert!(samples.contains("traceparent 00-"), "{samples}");
    assert!(
        samples.contains("&lt;script&gt;document.title"),
        "{samples}"
    );
    assert!(!samples.contains(SCRIPT) && !samples.contains(IMG));
    assert!(
        !samples.contains('\u{202e}'),
        "the bidi override is shown escaped"
    );
    assert!(samples.contains(&format!("href=\"/runs/{run_2}\"")));

    // With the scheduler's state: the next run and schedule, a probe running now (one that
    // never finished a run shows too), a rejected reload.
    let state = probity::daemon::DaemonState::shared(chrono::Utc::now());
    let schedule = |name: &str, schedule: &str| probity::daemon::ProbeSchedule {
        name: name.into(),
        schedule: schedule.into(),
        timezone: "Europe/Berlin".into(),
    };
    state.loaded(
        &[
            schedule("bot", "*/15 * * * *"),
            schedule("nightly", "@daily"),
        ],
        false,
    );
    let next = chrono::DateTime::parse_from_rfc3339("2031-05-06T07:15:00Z").unwrap();
    state.next_run("bot", Some(next.to_utc()));
    state.started("nightly", chrono::Utc::now());
    state.reload_failed("probes/bot.yaml:3:7: <b>broken</b>");
    let app = dashboard::router::<()>(Dashboard::new(project.db(), Some(state)));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let daemon_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (status, scheduled) = get(&format!("{daemon_base}/")).await;
    assert_eq!(status, 200, "{scheduled}");
    assert!(scheduled.contains("2031-05-06 07:15:00 UTC"), "{scheduled}");
    assert!(
        scheduled.contains("*/15 * * * * · Europe/Berlin"),
        "{scheduled}"
    );
    assert!(
        scheduled.contains("href=\"/probes/nightly\""),
        "{scheduled}"
    );
    assert!(scheduled.contains("pill s-running"), "{scheduled}");
    assert!(scheduled.contains("1 config reload failed: probes/bot.yaml:3:7: &lt;b&gt;broken"));

    // Unknown names: 404 pages that say what exists.
    let (status, missing) = get(&format!("{base}/probes/bott")).await;
    assert_eq!(status, 404);
    assert!(missing.contains("bot"), "{missing}");
    let (status, _) = get(&format!("{base}/runs/no-such-run")).await;
    assert_eq!(status, 404);
    let (status, _) = get(&format!("{base}/runs/{run_2}/cases/support/nope")).await;
    assert_eq!(status, 404);

    // A real browser: each page renders, nothing ran.
    let urls = [
        format!("{base}/"),
        format!("{base}/probes/bot"),
        format!("{base}/runs/{run_2}"),
        format!("{base}{case_link}"),
    ];
    let doms = tokio::task::spawn_blocking(move || {
        let chromium = Chromium::new();
        urls.iter()
            .map(|u| (u.clone(), chromium.dump_dom(u)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (url, dom) in &doms {
        let (title, marked) = ran(dom);
        assert!(!title.trim().is_empty(), "{url}: no title");
        assert!(
            !title.contains("pwned") && !marked,
            "a payload ran on {url}"
        );
        assert!(
            dom.contains("</table>") || dom.contains("class=\"sample\""),
            "{url}"
        );
    }
    let case_dom = &doms[3].1;
    assert!(
        case_dom.contains("&lt;script&gt;document.title"),
        "{case_dom}"
    );
    assert!(!case_dom.contains("<script"), "{case_dom}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemons_router_serves_the_dashboard_behind_its_token() {
    use std::sync::Arc;

    use probity::daemon::http::{HttpState, NoScheduler, router};
    use probity::metrics::Metrics;

    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe("1")),
        ("golden-sets/support.yaml", &golden()),
    ]);
    let sim = start_sim(&project.golden(), Profile::default()).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    let out = probity_in(project.root(), &[("PROBITY_TEST_KEY", "k")], &["run"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    sim.shutdown().await.unwrap();

    let state = HttpState::new(
        Arc::new(Metrics::new()),
        Some(project.db()),
        Arc::new(NoScheduler),
    )
    .with_token("dash-token")
    .with_dashboard(Dashboard::new(project.db(), None));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await });

    let client = reqwest::Client::new();
    for path in ["/", "/probes/bot", "/runs/latest"] {
        let open = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(open.status().as_u16(), 401, "{path} without the token");
        let page = client
            .get(format!("{base}{path}"))
            .bearer_auth("dash-token")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 200, "{path}");
        assert!(page.text().await.unwrap().contains("bot"), "{path}");
    }
}
