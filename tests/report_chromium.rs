//! Hostile text in a real browser: headless Chromium opens pages carrying `<script>`,
//! `<img onerror>`, `javascript:` links, `</style>` and a bidi override, and the DOM it
//! dumps shows whether any of it ran. First the check itself is proved: the raw payloads
//! do run (so the check can fail), the same payloads through probity's escaping do not, and
//! a blank screenshot is one colour while a page with charts is not. Then the real thing:
//! the run report and the history report `probity` writes for an endpoint whose answers,
//! reported model and case ids are the payloads.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/png.rs"]
mod png;
#[path = "support/project.rs"]
mod project;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::post;
use probity::pipeline::{Outputs, RunOptions, publish};
use probity::report::html;
use probity::store::Store;
use project::Project;

use chromium::{Chromium, file_url};
use probity::report::html::svg::{self, Marker, MarkerKind, TrendPoint};

const TITLE: &str = "probity hostile-text check";

/// Each payload, if it runs, sets the page title to `pwned` and the attribute `data-pwned`
/// on `<html>`; the attribute's name is built at run time, so it appears in the DOM only
/// when a script ran, never as part of the payload's text.
const PAYLOADS: &[&str] = &[
    "<script>document.title='pwned';\
     document.documentElement.setAttribute('data-'+'pwned','script')</script>",
    "<img src=x onerror=\"document.title='pwned';\
     document.documentElement.setAttribute('data-'+'pwned','img')\">",
    "<svg onload=\"document.documentElement.setAttribute('data-'+'pwned','svg')\"></svg>",
    "</style><script>document.documentElement.setAttribute('data-'+'pwned','style')</script>",
    "<a href=\"javascript:document.title='pwned'\">open the report</a>",
    "case\u{202E}txt.exe",
];

/// What the dumped DOM says ran: the title and the marker attribute, if set.
fn ran(dom: &str) -> (String, Option<String>) {
    let title = dom
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t.to_string())
        .unwrap_or_default();
    let marker = dom
        .split_once("data-pwned=\"")
        .map(|(_, rest)| rest.split('"').next().unwrap_or_default().to_string());
    (title, marker)
}

fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{TITLE}</title>\
         <style>body {{ font-family: sans-serif; margin: 16px; }} pre {{ white-space: pre-wrap; }}\
         </style></head><body>{body}</body></html>"
    )
}

#[test]
fn the_raw_payloads_run_so_the_check_can_fail() {
    let chromium = Chromium::new();
    let raw = chromium.dir().join("raw.html");
    std::fs::write(
        &raw,
        page(&format!(
            "<style>/* {} */</style>{}",
            PAYLOADS[3],
            PAYLOADS.join("\n")
        )),
    )
    .unwrap();
    let dom = chromium.dump_dom(&file_url(&raw));
    let (title, marker) = ran(&dom);
    assert_eq!(title, "pwned", "{dom}");
    assert!(marker.is_some(), "no payload ran:\n{dom}");
    assert!(dom.contains("href=\"javascript:"), "{dom}");
}

/// The same payloads as probity writes them: text escaped, in a chart's labels and links.
fn escaped_page() -> String {
    let mut body = String::from("<h1>Run report</h1>");
    for p in PAYLOADS {
        body.push_str(&format!("<pre>{}</pre>", svg::escape(p)));
    }
    let points: Vec<TrendPoint> = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| TrendPoint {
            label: p.to_string(),
            value: Some(i as f64 * 10.0 + 100.0),
            href: Some(match i % 3 {
                0 => "javascript:document.title='pwned'".to_string(),
                1 => format!("run-{i}.html"),
                _ => p.to_string(),
            }),
        })
        .collect();
    let markers: Vec<Marker> = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| Marker {
            at: i,
            label: p.to_string(),
            kind: if i % 2 == 0 {
                MarkerKind::Deployment
            } else {
                MarkerKind::Alert
            },
        })
        .collect();
    body.push_str(&svg::trend(PAYLOADS[0], PAYLOADS[1], &points, &markers));
    let latencies: Vec<f64> = (0..200).map(|i| 300.0 + f64::from(i % 40) * 12.0).collect();
    body.push_str(&svg::distribution(
        PAYLOADS[3],
        PAYLOADS[5],
        &latencies,
        Some(&latencies[..120]),
    ));
    page(&body)
}

#[test]
fn escaped_payloads_stay_text() {
    let chromium = Chromium::new();
    let path = chromium.dir().join("escaped.html");
    std::fs::write(&path, escaped_page()).unwrap();
    let dom = chromium.dump_dom(&file_url(&path));
    assert_eq!(ran(&dom), (TITLE.to_string(), None), "{dom}");
    // Shown as text: the serializer writes a text node's `<` back as `&lt;`.
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned';"),
        "{dom}"
    );
    assert!(dom.contains("&lt;/style&gt;&lt;script&gt;"), "{dom}");
    // The bidi override is shown as its escape, never raw.
    assert!(!dom.contains('\u{202E}'), "{dom}");
    assert!(dom.contains("case\\u{202e}txt.exe"), "{dom}");
    // The charts are in the DOM (not dropped by a parse error), with their links to pages
    // and only those.
    assert_eq!(dom.matches("<svg xmlns=").count(), 2, "{dom}");
    // Every link element (a raw `<a` is an element: text has its `<` as `&lt;`) goes to a
    // run report; the `javascript:` ones were dropped.
    let links: Vec<&str> = dom
        .split("<a ")
        .skip(1)
        .map(|tag| {
            tag.split_once("href=\"")
                .and_then(|(_, v)| v.split_once('"'))
                .map_or("", |(v, _)| v)
        })
        .collect();
    assert_eq!(links, ["run-1.html", "run-4.html"], "{dom}");
}

#[test]
fn a_screenshot_of_a_page_is_not_one_colour_and_of_a_blank_page_is() {
    let chromium = Chromium::new();
    let blank = chromium.dir().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let shot = png::decode_file(&chromium.screenshot(&file_url(&blank), 800, 600)).unwrap();
    assert_eq!((shot.width, shot.height), (800, 600));
    assert_eq!(shot.colours().len(), 1, "a blank page is one colour");

    let path = chromium.dir().join("escaped.html");
    std::fs::write(&path, escaped_page()).unwrap();
    let shot = png::decode_file(&chromium.screenshot(&file_url(&path), 800, 600)).unwrap();
    assert_eq!((shot.width, shot.height), (800, 600));
    let colours = shot.colours();
    // Text and charts: many colours (anti-aliasing), and a real share of the page inked.
    assert!(colours.len() > 16, "{} colours", colours.len());
    assert!(
        shot.share_not_background() > 0.02,
        "only {:.4} of the page is not background",
        shot.share_not_background()
    );
}

/// The daemon's dashboard is read over HTTP: a page on 127.0.0.1 is dumped with what its
/// (only) script wrote, and its image is fetched from the same loopback server.
#[tokio::test]
async fn the_support_reads_a_page_over_loopback_http() {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::State;
    use axum::http::Uri;

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = Router::new()
        .fallback(
            |State(seen): State<Arc<Mutex<Vec<String>>>>, uri: Uri| async move {
                seen.lock().unwrap().push(uri.path().to_string());
                axum::response::Html(
                    "<!DOCTYPE html><html><head><title>dashboard</title></head><body>\
                 <img src=\"/pixel.png\"><p id=\"p\">served</p>\
                 <script>document.getElementById('p').textContent += ' and scripted'</script>\
                 </body></html>",
                )
            },
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });

    let dom =
        tokio::task::spawn_blocking(move || Chromium::new().dump_dom(&format!("http://{addr}/")))
            .await
            .unwrap();
    assert!(dom.contains("<p id=\"p\">served and scripted</p>"), "{dom}");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&"/".to_string()) && seen.contains(&"/pixel.png".to_string()),
        "{seen:?}"
    );
}

/// A page whose server never answers keeps Chromium waiting: the call gives up at its
/// timeout, says so, and leaves no browser process behind.
#[test]
fn a_page_that_never_loads_times_out_and_leaves_no_browser() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    // Accepts (the kernel does, from the backlog) and never answers.
    let chromium = Chromium::new().with_timeout(std::time::Duration::from_secs(5));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        chromium.dump_dom(&url);
    }));
    let message = outcome.expect_err("a page that never loads was dumped");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("did not finish within 5 s"), "{message}");
    let group = chromium.last_pid().expect("a browser was started");
    // Killed processes take a moment to go on a loaded machine: wait for the group to empty.
    let gone = (0..200).any(|_| {
        let alive = std::process::Command::new("kill")
            .args(["-s", "0", "--", &format!("-{group}")])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        if alive {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        !alive
    });
    assert!(gone, "chromium's process group {group} is still there");
    drop(listener);
}

/// An OpenAI-compatible endpoint on 127.0.0.1 whose every answer, and the model it reports,
/// carries the payloads; the reported model is the payload `model` points at, so a test can
/// change it between runs (a deployment marker labelled with both).
async fn hostile_endpoint(model: Arc<AtomicUsize>) -> String {
    // `ANSWER` tells the answer from the case ids, which are the same payloads.
    let answer = format!("ANSWER {}", PAYLOADS.join("\n"));
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let answer = answer.clone();
            let model = PAYLOADS[model.load(Ordering::SeqCst) % PAYLOADS.len()];
            async move {
                axum::Json(serde_json::json!({
                    "id": "x",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [{ "index": 0, "finish_reason": "stop",
                                  "message": { "role": "assistant", "content": answer } }],
                    "usage": { "prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12 }
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}/v1")
}

/// A golden set whose case ids are the payloads (YAML double-quoted, so `\u202E` is the
/// bidi override itself) and whose expectations the answers fail, so the report shows the
/// failing samples with their output.
fn hostile_golden() -> String {
    let mut yaml = String::from("name: support\ncases:\n");
    for p in PAYLOADS {
        let id = p
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\u{202E}', "\\u202E");
        yaml.push_str(&format!(
            "  - id: \"{id}\"\n    messages: [{{ role: user, content: \"How long do I have?\" }}]\n    expect:\n      contains: [\"30 days\"]\n"
        ));
    }
    yaml
}

/// The checks of a page probity wrote: nothing ran, the payloads read as text, links go
/// only to pages, and the page is not blank.
fn check_in_chromium(chromium: &Chromium, page: &Path, shows: &[&str]) {
    let html = std::fs::read_to_string(page).unwrap();
    let title = ran(&html).0;
    assert!(!title.is_empty() && title != "pwned", "{title}");
    let dom = chromium.dump_dom(&file_url(page));
    assert_eq!(ran(&dom), (title, None), "a payload ran:\n{dom}");
    assert!(!dom.contains('\u{202E}'), "a raw bidi override in the DOM");
    for text in shows {
        assert!(dom.contains(text), "{text:?} is not shown as text:\n{dom}");
    }
    // One style element, the page's own: the payloads' `</style>` closed nothing.
    assert_eq!(dom.matches("</style>").count(), 1, "{dom}");
    for tag in dom.split("<a ").skip(1) {
        let href = tag
            .split_once("href=\"")
            .and_then(|(_, v)| v.split_once('"'))
            .map_or("", |(v, _)| v);
        assert!(
            svg::safe_href(href).is_some() && !href.to_ascii_lowercase().contains("javascript"),
            "a link to {href:?}"
        );
    }
    let shot = png::decode_file(&chromium.screenshot(&file_url(page), 1000, 1400)).unwrap();
    assert!(
        shot.colours().len() > 16,
        "{} colours",
        shot.colours().len()
    );
    assert!(
        shot.share_not_background() > 0.02,
        "{:.4}",
        shot.share_not_background()
    );
}

#[tokio::test]
async fn a_report_of_hostile_model_text_runs_nothing_in_a_browser() {
    let model = Arc::new(AtomicUsize::new(1));
    let url = hostile_endpoint(model.clone()).await;
    let probe = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {url}\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\n  stream: false\ngolden_sets: [golden-sets/support.yaml]\nsamples: 2\nconcurrency: 1\n"
    );
    let golden = hostile_golden();
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe),
        ("golden-sets/support.yaml", &golden),
    ]);
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let reports = project.root().join("reports");
    let outputs = Outputs {
        report_dir: Some(reports.clone()),
        ..Outputs::default()
    };
    // Two runs, so the trend has points linking to run reports, and a deployment marker
    // between them: the reported model changes from one payload to another.
    let mut page = None;
    for run in 0..2 {
        model.store(if run == 0 { 1 } else { 5 }, Ordering::SeqCst);
        let outcome = project::run(&probe, &store, &RunOptions::default()).await;
        let published = publish(&store, &probe, &outcome, &outputs).await.unwrap();
        page = published.report;
    }
    let page = page.expect("the run wrote its report");
    let history = reports.join("bot").join("history.html");
    std::fs::write(
        &history,
        html::render_history(&store, "bot", 30, &html::Options::for_reports(&reports)).unwrap(),
    )
    .unwrap();
    tokio::task::spawn_blocking(move || {
        let chromium = Chromium::new();
        // What model output and case ids read as: the serializer writes a text node's `<`
        // back as `&lt;`, and the bidi override is shown as its escape.
        let shown = [
            "ANSWER &lt;script&gt;document.title=",
            "&lt;script&gt;document.title=",
            "&lt;img src=x onerror=",
            "&lt;/style&gt;&lt;script&gt;",
            "&lt;a href=\"javascript:",
            "case\\u{202e}txt.exe",
        ];
        check_in_chromium(&chromium, &page, &shown);
        // The history's deployment marker, labelled with both reported models.
        check_in_chromium(
            &chromium,
            &history,
            &[
                "reported model &lt;img src=x onerror=",
                "→ case\\u{202e}txt.exe",
            ],
        );
    })
    .await
    .unwrap();
}
