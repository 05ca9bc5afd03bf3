//! The report's inline SVG charts: well-formed on any input (empty, one value, NaN,
//! infinities, huge values, hostile labels), text shown as text, links only to pages, and
//! the same bytes for the same input.

#[path = "support/xml.rs"]
mod xml;

use probity::report::html::svg::{
    Marker, MarkerKind, Scale, TrendPoint, distribution, distribution_with, sparkline, trend,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use xml::Element;

const HOSTILE: &[&str] = &[
    "<script>document.title='pwned'</script>",
    "\"><img src=x onerror=\"document.title='pwned'\">",
    "</svg><script>alert(1)</script>",
    "</text></g></svg>&amp;&lt;",
    "a & b ' \" c",
    "admin\u{202E}txt.exe",
    "nul\u{0}bell\u{7}del\u{7f}",
    "line\nbreak\ttab",
    "javascript:alert(1)",
    "\u{FFFF}\u{FEFF}",
];

/// Parses the chart and checks what must hold of every one: a single `<svg>` root in the
/// SVG namespace; no element that runs or embeds anything; no event handler or style
/// attribute; links only where `safe` says; every coordinate finite; no raw hidden or
/// control characters anywhere.
fn check(svg: &str) -> Vec<Element> {
    let els = xml::parse(svg).unwrap_or_else(|e| panic!("not well formed: {e}\n{svg}"));
    assert_eq!(els[0].name, "svg");
    assert_eq!(els[0].attr("xmlns"), Some("http://www.w3.org/2000/svg"));
    for el in &els {
        assert!(
            !matches!(
                el.name.as_str(),
                "script" | "foreignObject" | "image" | "use" | "iframe" | "style" | "img"
            ),
            "<{}> in\n{svg}",
            el.name
        );
        for (k, v) in &el.attrs {
            assert!(!k.to_ascii_lowercase().starts_with("on"), "{k}= in\n{svg}");
            assert!(k != "style" && k != "id", "{k}= in\n{svg}");
            if matches!(
                k.as_str(),
                "x" | "y" | "x1" | "y1" | "x2" | "y2" | "cx" | "cy" | "r" | "width" | "height"
            ) {
                let n: f64 = v.parse().unwrap_or_else(|_| panic!("{k}={v:?} in\n{svg}"));
                assert!(n.is_finite(), "{k}={v}");
            }
            if k == "d" {
                for num in v.split(|c: char| c.is_ascii_alphabetic() || c == ' ') {
                    if !num.is_empty() {
                        let n: f64 = num.parse().unwrap_or_else(|_| panic!("d={v:?}"));
                        assert!(n.is_finite(), "d={v}");
                    }
                }
            }
            if k == "href" {
                assert!(
                    probity::report::html::svg::safe_href(v).is_some(),
                    "href={v:?}"
                );
            }
        }
    }
    for c in svg.chars() {
        assert!(
            !probity::inert::is_hidden(c) && (!c.is_control() || c == '\n'),
            "raw {c:?} in\n{svg}"
        );
    }
    els
}

fn texts(els: &[Element]) -> String {
    els.iter()
        .map(|e| e.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn points(values: &[Option<f64>]) -> Vec<TrendPoint> {
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| TrendPoint {
            label: format!("run {i}"),
            value,
            href: Some(format!("run-{i}.html")),
        })
        .collect()
}

#[test]
fn a_distribution_shows_both_runs_with_units_legend_and_marks() {
    let current: Vec<f64> = (0..200).map(|i| 400.0 + f64::from(i % 50) * 10.0).collect();
    let baseline: Vec<f64> = (0..180).map(|i| 300.0 + f64::from(i % 40) * 10.0).collect();
    let svg = distribution("Latency", "ms", &current, Some(&baseline));
    let els = check(&svg);
    let text = texts(&els);
    assert!(text.contains("Latency"), "{text}");
    assert!(text.contains("ms"), "{text}");
    assert!(
        text.contains("this run: n=200, p50 645 ms, p95 870 ms"),
        "{text}"
    );
    assert!(
        text.contains("baseline: n=180, p50 475 ms, p95 670 ms"),
        "{text}"
    );
    assert_eq!(els.iter().filter(|e| e.text == "p50").count(), 2, "{text}");
    assert_eq!(els.iter().filter(|e| e.text == "p95").count(), 2, "{text}");
    assert!(!text.contains("log scale"));
    // this run's bars, and the baseline's outline
    assert!(els.iter().filter(|e| e.name == "rect").count() > 10);
    assert!(els.iter().any(|e| e.name == "path"));
    // Same bytes for the same input: snapshot-testable.
    assert_eq!(
        svg,
        distribution("Latency", "ms", &current, Some(&baseline))
    );
}

#[test]
fn a_long_tail_gets_a_log_axis_unless_it_cannot() {
    let mut values: Vec<f64> = (1..=100).map(|i| 50.0 + f64::from(i)).collect();
    values.push(30_000.0);
    let text = texts(&check(&distribution("Latency", "ms", &values, None)));
    assert!(text.contains("ms (log scale)"), "{text}");
    assert!(text.contains("1000"), "decade ticks: {text}");
    let linear = distribution_with("Latency", "ms", &values, None, Scale::Linear);
    assert!(!texts(&check(&linear)).contains("log scale"));
    // A zero cannot sit on a log axis: asked for log, the chart falls back to linear.
    let with_zero = distribution_with("Tokens", "tokens", &[0.0, 10.0, 5000.0], None, Scale::Log);
    assert!(!texts(&check(&with_zero)).contains("log scale"));
}

#[test]
fn empty_one_value_nan_and_infinities() {
    for svg in [
        distribution("Latency", "ms", &[], None),
        distribution("Latency", "ms", &[], Some(&[])),
        distribution(
            "Latency",
            "ms",
            &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
            None,
        ),
    ] {
        assert!(texts(&check(&svg)).contains("no data"), "{svg}");
    }
    let one = check(&distribution("Latency", "ms", &[42.0], None));
    assert!(texts(&one).contains("n=1, p50 42.0 ms, p95 42.0 ms"));
    let same = check(&distribution("L", "ms", &[5.0, 5.0, 5.0], Some(&[5.0])));
    assert!(texts(&same).contains("baseline: n=1"));
    // NaN and infinities are left out, not counted.
    let dirty = distribution("L", "ms", &[1.0, f64::NAN, 2.0, f64::INFINITY, 3.0], None);
    assert_eq!(dirty, distribution("L", "ms", &[1.0, 2.0, 3.0], None));
    // A baseline with nothing usable shows as such, this run still drawn.
    let text = texts(&check(&distribution(
        "L",
        "ms",
        &[1.0, 2.0],
        Some(&[f64::NAN]),
    )));
    assert!(text.contains("baseline: no values"), "{text}");

    assert!(texts(&check(&trend("p95", "ms", &[], &[]))).contains("no runs yet"));
    let none = check(&trend("p95", "ms", &points(&[None, Some(f64::NAN)]), &[]));
    assert!(texts(&none).contains("no values"));
    assert!(!none.iter().any(|e| e.name == "circle"));
    let single = check(&trend("p95", "ms", &points(&[Some(7.0)]), &[]));
    assert_eq!(single.iter().filter(|e| e.name == "circle").count(), 1);
    let inf = trend(
        "p95",
        "ms",
        &points(&[Some(1.0), Some(f64::INFINITY), Some(3.0)]),
        &[],
    );
    assert_eq!(
        inf,
        trend("p95", "ms", &points(&[Some(1.0), None, Some(3.0)]), &[])
    );

    for values in [
        &[][..],
        &[None, None][..],
        &[Some(1.0)][..],
        &[Some(f64::NAN), Some(2.0), None][..],
    ] {
        check(&sparkline(values));
    }
}

#[test]
fn huge_values_stay_on_the_chart() {
    let huge = [
        1.0,
        1e12,
        1e308,
        f64::MAX,
        -f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
    ];
    for svg in [
        distribution("Tokens", "tokens", &huge, Some(&huge[..3])),
        distribution_with("Tokens", "tokens", &huge[..4], None, Scale::Log),
        trend(
            "Cost",
            "USD",
            &points(&huge.iter().copied().map(Some).collect::<Vec<_>>()),
            &[],
        ),
        sparkline(&huge.iter().copied().map(Some).collect::<Vec<_>>()),
    ] {
        let els = check(&svg);
        let text = texts(&els);
        assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    }
    let text = texts(&check(&distribution(
        "Tokens",
        "tokens",
        &[1e300, 2e300],
        None,
    )));
    assert!(text.contains("e300"), "{text}");
}

#[test]
fn hostile_labels_stay_text() {
    for &h in HOSTILE {
        let markers = [
            Marker {
                at: 1,
                label: h.to_string(),
                kind: MarkerKind::Deployment,
            },
            Marker {
                at: 2,
                label: h.to_string(),
                kind: MarkerKind::Alert,
            },
        ];
        let pts: Vec<TrendPoint> = [1.0, 2.0, 3.0]
            .iter()
            .map(|&v| TrendPoint {
                label: h.to_string(),
                value: Some(v),
                href: Some(h.to_string()),
            })
            .collect();
        for svg in [
            distribution(h, h, &[1.0, 2.0], Some(&[1.5])),
            trend(h, h, &pts, &markers),
        ] {
            let els = check(&svg);
            // The accessible title carries the whole label, decoded back to what was given
            // (hidden and control characters shown as `\u{..}`, whitespace as spaces).
            let shown: String = h
                .chars()
                .map(|c| match c {
                    '\n' | '\t' => " ".to_string(),
                    c if c.is_control() || probity::inert::is_hidden(c) || c == '\u{FFFF}' => {
                        c.escape_unicode().to_string()
                    }
                    c => c.to_string(),
                })
                .collect();
            assert_eq!(els[1].name, "title");
            assert_eq!(els[1].text, shown, "{svg}");
        }
    }
    let svg = trend(
        "t",
        "ms",
        &points(&[Some(1.0)]),
        &[Marker {
            at: 0,
            label: "<script>x</script>".into(),
            kind: MarkerKind::Alert,
        }],
    );
    assert!(svg.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(!svg.contains("<script"));
}

#[test]
fn trend_links_points_to_run_reports_and_never_to_script() {
    let mut pts = points(&[Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)]);
    pts[1].href = Some("javascript:document.title='pwned'".into());
    pts[2].href = Some("https://reports.example/r/2.html?a=1&b=2".into());
    pts[3].href = None;
    pts[4].href = Some(" JAVASCRIPT:alert(1)".into());
    let els = check(&trend("Pass rate", "%", &pts, &[]));
    let links: Vec<&str> = els
        .iter()
        .filter(|e| e.name == "a")
        .map(|e| e.attr("href").unwrap())
        .collect();
    assert_eq!(
        links,
        vec!["run-0.html", "https://reports.example/r/2.html?a=1&b=2"]
    );
    // Every point is still drawn, linked or not, each with its value in its tooltip.
    let dots: Vec<&Element> = els.iter().filter(|e| e.name == "circle").collect();
    assert_eq!(dots.len(), 5);
    assert_eq!(dots[0].ancestors.last().map(String::as_str), Some("a"));
    assert_eq!(dots[1].ancestors.last().map(String::as_str), Some("svg"));
    let tips: Vec<&str> = els
        .iter()
        .filter(|e| e.name == "title" && e.ancestors.last().map(String::as_str) == Some("circle"))
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(tips[0], "run 0: 1.00 %");
    assert_eq!(tips[4], "run 4: 5.00 %");
}

#[test]
fn trend_breaks_the_line_at_missing_runs_and_draws_markers() {
    let pts = points(&[
        Some(10.0),
        Some(12.0),
        None,
        Some(11.0),
        Some(30.0),
        Some(29.0),
    ]);
    let markers = [
        Marker {
            at: 3,
            label: "model_version 2024-07-18 → 2024-08-06".into(),
            kind: MarkerKind::Deployment,
        },
        Marker {
            at: 4,
            label: "p95 latency critical".into(),
            kind: MarkerKind::Alert,
        },
        Marker {
            at: 6,
            label: "past the last run".into(),
            kind: MarkerKind::Alert,
        },
    ];
    let svg = trend("p95 latency", "ms", &pts, &markers);
    let els = check(&svg);
    let text = texts(&els);
    assert!(
        text.contains("model_version 2024-07-18 → 2024-08-06"),
        "{text}"
    );
    assert!(text.contains("p95 latency critical"), "{text}");
    assert!(!text.contains("past the last run"), "{text}");
    assert!(text.contains("run 0") && text.contains("run 5"), "{text}");
    // The line: one path with two pieces, each starting with a move.
    let line = els
        .iter()
        .filter(|e| e.name == "path" && e.attr("fill") == Some("none"))
        .map(|e| e.attr("d").unwrap())
        .collect::<Vec<_>>();
    assert_eq!(line.len(), 1);
    assert_eq!(line[0].matches('M').count(), 2, "{}", line[0]);
    assert_eq!(line[0].matches('L').count(), 3, "{}", line[0]);
    // The deployment marker sits between runs 2 and 3, the alert on run 4.
    let x_of = |label: &str| -> f64 {
        let g = els
            .iter()
            .position(|e| e.name == "title" && e.text == label)
            .unwrap();
        els[g + 1].attr("x1").unwrap().parse().unwrap()
    };
    let dot_x: Vec<f64> = els
        .iter()
        .filter(|e| e.name == "circle")
        .map(|e| e.attr("cx").unwrap().parse().unwrap())
        .collect();
    let deploy = x_of("model_version 2024-07-18 → 2024-08-06");
    assert!(dot_x[1] < deploy && deploy < dot_x[2], "{deploy} {dot_x:?}");
    assert_eq!(x_of("p95 latency critical"), dot_x[3]);
}

#[test]
fn many_runs_label_a_few_and_always_the_last() {
    let pts = points(&(0..30).map(|i| Some(f64::from(i))).collect::<Vec<_>>());
    let els = check(&trend("cost", "USD", &pts, &[]));
    let labels: Vec<&str> = els
        .iter()
        .filter(|e| e.name == "text" && e.text.starts_with("run ") && !e.text.starts_with("run ("))
        .map(|e| e.text.as_str())
        .collect();
    assert!(labels.len() <= 8, "{labels:?}");
    assert_eq!(labels.first(), Some(&"run 0"));
    assert_eq!(labels.last(), Some(&"run 29"));
}

#[test]
fn a_sparkline_is_a_small_fixed_picture() {
    let svg = sparkline(&[Some(0.0), Some(1.0), None, Some(0.5)]);
    assert_eq!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"28\" \
         viewBox=\"0 0 120 28\" aria-hidden=\"true\"><path d=\"M3.0 25.0 L41.0 3.0 M117.0 14.0\" \
         fill=\"none\" stroke=\"#2563eb\" stroke-width=\"1.5\" stroke-linejoin=\"round\"/>\
         <circle cx=\"117.0\" cy=\"14.0\" r=\"2\" fill=\"#1e3a8a\"/></svg>"
    );
    let flat = check(&sparkline(&[Some(3.0), Some(3.0)]));
    assert_eq!(flat[1].attr("d"), Some("M3.0 14.0 L117.0 14.0"));
}

/// Any labels, any values: well formed, nothing runs, nothing hidden, coordinates finite.
#[test]
fn any_input_gives_a_safe_chart() {
    let label = prop_oneof![
        ".{0,30}",
        proptest::sample::select(HOSTILE).prop_map(str::to_string),
    ];
    let value = prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::MAX),
        Just(0.0),
        -1e6f64..1e6,
        any::<f64>(),
    ];
    let strategy = (
        label.clone(),
        label.clone(),
        proptest::collection::vec(value.clone(), 0..40),
        proptest::option::of(proptest::collection::vec(value.clone(), 0..40)),
        proptest::collection::vec(
            (label.clone(), proptest::option::of(value), label.clone()),
            0..12,
        ),
        proptest::collection::vec((0usize..14, label, any::<bool>()), 0..4),
    );
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(title, unit, cur, base, pts, marks)| {
            let pts: Vec<TrendPoint> = pts
                .into_iter()
                .map(|(label, value, href)| TrendPoint {
                    label,
                    value,
                    href: Some(href),
                })
                .collect();
            let marks: Vec<Marker> = marks
                .into_iter()
                .map(|(at, label, deploy)| Marker {
                    at,
                    label,
                    kind: if deploy {
                        MarkerKind::Deployment
                    } else {
                        MarkerKind::Alert
                    },
                })
                .collect();
            for scale in [Scale::Auto, Scale::Linear, Scale::Log] {
                check(&distribution_with(
                    &title,
                    &unit,
                    &cur,
                    base.as_deref(),
                    scale,
                ));
            }
            check(&trend(&title, &unit, &pts, &marks));
            check(&sparkline(&pts.iter().map(|p| p.value).collect::<Vec<_>>()));
            Ok(())
        })
        .unwrap();
}
