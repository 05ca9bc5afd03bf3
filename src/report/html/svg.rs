//! Inline SVG charts for the HTML report and the daemon's dashboard: a run's distribution
//! over its baseline's, a metric's trend over the probe's last runs with deployment and
//! alert markers, and a sparkline.
//!
//! Every chart is a pure function returning one `<svg>` element as a string, meant to be
//! pasted into an HTML page as is, so the rules are those of a self-contained report:
//! - no fonts from the system or the network (text asks for the generic `sans-serif`), no
//!   `<style>` element (inline in HTML it would restyle the whole page), no `id` (two charts
//!   on one page would collide), no script;
//! - deterministic: the same input gives the same bytes (coordinates with one decimal), so
//!   pages can be snapshot-tested;
//! - every piece of text is escaped, because labels carry case ids, model names and target
//!   labels from config and from the endpoint: `& < > " '` become entities, characters that
//!   reorder or hide text (`crate::inert::is_hidden`) and control characters are shown as
//!   `\u{..}`; links (`<a href>`) are kept only when relative or http(s), never `javascript:`;
//! - no panic on any input: NaN and infinities are left out (a trend shows a gap), finite
//!   values beyond ±1e300 are drawn at ±1e300 so the arithmetic of the axes stays finite,
//!   and an empty input gives a chart saying so, of the same size.

use std::fmt::Write as _;

use crate::inert;

/// Largest magnitude drawn: beyond it a finite value is drawn at the limit (the span of two
/// clamped values, 2e300, still fits an `f64`).
const LIMIT: f64 = 1e300;

const FONT: &str = "sans-serif";
const INK: &str = "#1f2937";
const MUTED: &str = "#6b7280";
const GRID: &str = "#e5e7eb";
const CURRENT: &str = "#2563eb";
const CURRENT_DARK: &str = "#1e3a8a";
const BASELINE: &str = "#9ca3af";
const BASELINE_DARK: &str = "#4b5563";
const DEPLOYMENT: &str = "#7c3aed";
const ALERT: &str = "#dc2626";

/// How the value axis of a distribution is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Logarithmic bins and ticks (latency with a long tail). Falls back to linear when a
    /// value is zero or negative, which a log axis cannot show.
    Log,
    /// Log when every value is positive, the largest is at least 5 times the smallest, and
    /// the 5 % beyond p95 would take two thirds of a linear axis (a tail that squashes the
    /// body of the histogram into a few bars), else linear.
    Auto,
}

/// One run on a trend: where it sits on the x axis, its value, and where its report is.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// What the x axis says under the point (a date, a short run id); clipped to 12
    /// characters on the axis, shown whole in the point's tooltip.
    pub label: String,
    /// The metric for this run; `None` (or NaN, infinite) when the run has no value — the
    /// line shows a gap there rather than inventing one.
    pub value: Option<f64>,
    /// The run's report, relative (`run-7.html`, `../runs/7`) or http(s). Any other scheme
    /// (`javascript:`, `data:`) or a link with whitespace or control characters is dropped
    /// and the point is drawn without a link.
    pub href: Option<String>,
}

/// A vertical mark on a trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Index into the trend's points. A deployment marker is drawn just before that point
    /// (the change happened between the previous run and this one); an alert marker on the
    /// point itself. Markers past the last point are not drawn.
    pub at: usize,
    /// E.g. `model_version 2024-07-18 → 2024-08-06` or `p95 latency critical`; clipped to 40
    /// characters on the chart, whole in its tooltip.
    pub label: String,
    pub kind: MarkerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    /// `model_version`, the reported model or a target label changed.
    Deployment,
    /// An alert fired on this run.
    Alert,
}

/// This run's distribution over the baseline's on shared bins, with the scale chosen by
/// `Scale::Auto`. See [`distribution_with`].
pub fn distribution(title: &str, unit: &str, current: &[f64], baseline: Option<&[f64]>) -> String {
    distribution_with(title, unit, current, baseline, Scale::Auto)
}

/// A histogram of `current` (blue bars) over `baseline` (grey outline), both as the share of
/// their own samples so runs of different sizes compare, on the same 30 bins; p50 and p95 of
/// each as vertical lines (solid for this run, dashed for the baseline) and in the legend
/// with the sample counts. The x axis is labelled with `unit` (`ms`, `tokens`).
pub fn distribution_with(
    title: &str,
    unit: &str,
    current: &[f64],
    baseline: Option<&[f64]>,
    scale: Scale,
) -> String {
    const W: f64 = 640.0;
    const H: f64 = 300.0;
    let plot = Rect {
        left: 56.0,
        top: 70.0,
        right: W - 16.0,
        bottom: H - 40.0,
    };
    let cur = finite(current.iter().copied().map(Some));
    let base = baseline.map(|b| finite(b.iter().copied().map(Some)));
    let all: Vec<f64> = cur.iter().chain(base.iter().flatten()).copied().collect();
    if all.is_empty() {
        return empty_chart(W, H, title, "no data");
    }
    let (min, max) = min_max(&all);
    let log = match scale {
        Scale::Linear => false,
        Scale::Log => min > 0.0,
        Scale::Auto => {
            let p95 = quantile(&all, 0.95);
            min > 0.0 && max >= 5.0 * min && max - p95 > 2.0 * (p95 - min)
        }
    };
    let axis = if log {
        Axis::log(min, max)
    } else {
        Axis::linear(min, max, 8)
    };

    const BINS: usize = 30;
    let shares = |values: &[f64]| -> Vec<f64> {
        let mut counts = [0usize; BINS];
        for &v in values {
            let bin = (axis.frac(v) * BINS as f64).floor();
            counts[(bin.max(0.0) as usize).min(BINS - 1)] += 1;
        }
        let n = values.len().max(1) as f64;
        counts.iter().map(|&c| c as f64 / n).collect()
    };
    let cur_shares = shares(&cur);
    let base_shares = base.as_deref().map(shares);
    let top_share = cur_shares
        .iter()
        .chain(base_shares.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let y = Axis::linear(0.0, top_share.max(0.01), 4);

    let mut svg = open(W, H, title);
    title_text(&mut svg, title);
    // Legend: one line per series, with what the marks say in numbers.
    let legend = |svg: &mut String, row: f64, color: &str, dashed: bool, name: &str, v: &[f64]| {
        let ly = 34.0 + row * 14.0;
        let dash = if dashed {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" \
             stroke-width=\"3\"{dash}/>",
            plot.left,
            ly - 4.0,
            plot.left + 18.0,
            ly - 4.0
        );
        let text = if v.is_empty() {
            format!("{name}: no values")
        } else {
            format!(
                "{name}: n={}, p50 {}, p95 {}",
                v.len(),
                with_unit(quantile(v, 0.5), unit),
                with_unit(quantile(v, 0.95), unit)
            )
        };
        text_at(svg, plot.left + 24.0, ly, "start", 11.0, INK, &text);
    };
    legend(&mut svg, 0.0, CURRENT, false, "this run", &cur);
    if let Some(b) = &base {
        legend(&mut svg, 1.0, BASELINE_DARK, true, "baseline", b);
    }

    // Grid and y ticks (share of samples, in percent).
    for &t in &y.ticks {
        let py = plot.y(y.frac(t));
        hline(&mut svg, plot.left, plot.right, py, GRID);
        text_at(
            &mut svg,
            plot.left - 6.0,
            py + 4.0,
            "end",
            10.0,
            MUTED,
            &percent(t, y.step),
        );
    }
    vertical_text(
        &mut svg,
        14.0,
        (plot.top + plot.bottom) / 2.0,
        "share of samples",
    );

    let bin_w = plot.width() / BINS as f64;
    if let Some(shares) = &base_shares {
        // The baseline as a step outline, so this run's bars stay visible through it.
        let mut d = format!("M{:.1} {:.1}", plot.left, plot.bottom);
        for (i, &s) in shares.iter().enumerate() {
            let py = plot.y(y.frac(s));
            let _ = write!(
                d,
                " L{:.1} {:.1} L{:.1} {:.1}",
                plot.left + i as f64 * bin_w,
                py,
                plot.left + (i + 1) as f64 * bin_w,
                py
            );
        }
        let _ = write!(d, " L{:.1} {:.1} Z", plot.right, plot.bottom);
        let _ = write!(
            svg,
            "<path d=\"{d}\" fill=\"{BASELINE}\" fill-opacity=\"0.3\" stroke=\"{BASELINE_DARK}\" \
             stroke-width=\"1.5\"/>"
        );
    }
    for (i, &s) in cur_shares.iter().enumerate() {
        if s <= 0.0 {
            continue;
        }
        let py = plot.y(y.frac(s));
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{CURRENT}\" \
             fill-opacity=\"0.6\"/>",
            plot.left + i as f64 * bin_w + 1.0,
            py,
            (bin_w - 2.0).max(0.5),
            plot.bottom - py
        );
    }

    // p50 / p95 marks: this run's solid, the baseline's dashed. Their labels go to the first
    // of three rows where they overlap no other label, this run's first.
    let mut marks = Vec::new();
    for (v, color, dashed) in [(&cur[..], CURRENT_DARK, false)]
        .into_iter()
        .chain(base.as_deref().map(|b| (b, BASELINE_DARK, true)))
    {
        if v.is_empty() {
            continue;
        }
        for (q, name) in [(0.5, "p50"), (0.95, "p95")] {
            marks.push((plot.x(axis.frac(quantile(v, q))), color, dashed, name));
        }
    }
    let mut shelf = Shelf::new(&[plot.top - 4.0, plot.top + 9.0, plot.top + 20.0]);
    let placed: Vec<f64> = marks
        .iter()
        .map(|&(px, _, _, name)| shelf.place(px + 2.0, px + 2.0 + text_width(name, 9.0)))
        .collect();
    for (&(px, color, dashed, _), _) in marks.iter().zip(&placed).rev() {
        let dash = if dashed {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{color}\" \
             stroke-width=\"1.5\"{dash}/>",
            plot.top - 12.0,
            plot.bottom
        );
    }
    for (&(px, color, _, name), &ly) in marks.iter().zip(&placed) {
        text_at(&mut svg, px + 2.0, ly, "start", 9.0, color, name);
    }

    // x axis.
    hline(&mut svg, plot.left, plot.right, plot.bottom, MUTED);
    for &t in &axis.ticks {
        let px = plot.x(axis.frac(t));
        let _ = write!(
            svg,
            "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{MUTED}\"/>",
            plot.bottom,
            plot.bottom + 4.0
        );
        text_at(
            &mut svg,
            px,
            plot.bottom + 16.0,
            "middle",
            10.0,
            MUTED,
            &number(t, axis.tick_step(t)),
        );
    }
    let x_label = if log {
        format!("{unit} (log scale)")
    } else {
        unit.to_string()
    };
    text_at(
        &mut svg,
        (plot.left + plot.right) / 2.0,
        H - 8.0,
        "middle",
        11.0,
        INK,
        &x_label,
    );
    svg.push_str("</svg>");
    svg
}

/// A metric over the probe's last runs, oldest first: a line through the runs that have a
/// value (a gap where one has none), a dot per run linking to its report, deployment markers
/// (dashed purple, labelled) between runs and alert markers (red, labelled) on runs. The
/// y axis is labelled with `unit` (`ms`, `%`, `USD`).
pub fn trend(title: &str, unit: &str, points: &[TrendPoint], markers: &[Marker]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 260.0;
    if points.is_empty() {
        return empty_chart(W, H, title, "no runs yet");
    }
    let plot = Rect {
        left: 56.0,
        top: 66.0,
        right: W - 16.0,
        bottom: H - 40.0,
    };
    let values = points
        .iter()
        .map(|p| p.value.filter(|v| v.is_finite()).map(clamp))
        .collect::<Vec<_>>();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let y = if present.is_empty() {
        Axis::linear(0.0, 1.0, 4)
    } else {
        let (min, max) = min_max(&present);
        Axis::linear(min, max, 5)
    };
    let n = points.len();
    let slot = plot.width() / n as f64;
    let px = |i: usize| plot.left + (i as f64 + 0.5) * slot;

    let mut svg = open(W, H, title);
    title_text(&mut svg, title);
    for &t in &y.ticks {
        let py = plot.y(y.frac(t));
        hline(&mut svg, plot.left, plot.right, py, GRID);
        text_at(
            &mut svg,
            plot.left - 6.0,
            py + 4.0,
            "end",
            10.0,
            MUTED,
            &number(t, y.step),
        );
    }
    vertical_text(&mut svg, 14.0, (plot.top + plot.bottom) / 2.0, unit);
    if present.is_empty() {
        text_at(
            &mut svg,
            (plot.left + plot.right) / 2.0,
            (plot.top + plot.bottom) / 2.0,
            "middle",
            12.0,
            MUTED,
            "no values",
        );
    }

    // Markers first, so the line and its dots are drawn over them. Each label goes to the
    // first of three rows above the plot where it overlaps no other.
    let mut shelf = Shelf::new(&[34.0, 45.0, 56.0]);
    for marker in markers.iter().filter(|m| m.at < n) {
        let (x, color, dash) = match marker.kind {
            MarkerKind::Deployment => (
                plot.left + marker.at as f64 * slot,
                DEPLOYMENT,
                " stroke-dasharray=\"5 3\"",
            ),
            MarkerKind::Alert => (px(marker.at), ALERT, ""),
        };
        let label = clip(&marker.label, 40);
        // Right of the mark, or left of it in the right third, to stay inside the chart.
        let width = text_width(&label, 9.0);
        let (tx, anchor, x0) = if x > plot.left + plot.width() * 2.0 / 3.0 {
            (x - 3.0, "end", x - 3.0 - width)
        } else {
            (x + 3.0, "start", x + 3.0)
        };
        let ly = shelf.place(x0, x0 + width);
        let _ = write!(
            svg,
            "<g><title>{}</title><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" \
             stroke=\"{color}\" stroke-width=\"1.5\"{dash}/>",
            escape(&marker.label),
            ly + 2.0,
            plot.bottom
        );
        if marker.kind == MarkerKind::Alert {
            let _ = write!(
                svg,
                "<path d=\"M{:.1} {:.1} L{:.1} {:.1} L{:.1} {:.1} Z\" fill=\"{ALERT}\"/>",
                x - 4.0,
                plot.top - 7.0,
                x + 4.0,
                plot.top - 7.0,
                x,
                plot.top
            );
        }
        text_at(&mut svg, tx, ly, anchor, 9.0, color, &label);
        svg.push_str("</g>");
    }

    // The line, broken where a run has no value.
    let mut d = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let _ = write!(
                    d,
                    "{}{:.1} {:.1}",
                    if d.is_empty() {
                        "M"
                    } else if pen_down {
                        " L"
                    } else {
                        " M"
                    },
                    px(i),
                    plot.y(y.frac(*v))
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    if !d.is_empty() {
        let _ = write!(
            svg,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{CURRENT}\" stroke-width=\"2\" \
             stroke-linejoin=\"round\"/>"
        );
    }
    for (i, (point, v)) in points.iter().zip(&values).enumerate() {
        let Some(v) = v else { continue };
        let link = point.href.as_deref().and_then(safe_href);
        if let Some(href) = link {
            let _ = write!(svg, "<a href=\"{}\">", escape(href));
        }
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{CURRENT}\" stroke=\"#ffffff\" \
             stroke-width=\"1\"><title>{}</title></circle>",
            px(i),
            plot.y(y.frac(*v)),
            if link.is_some() { "4" } else { "3" },
            escape(&format!("{}: {}", point.label, with_unit(*v, unit)))
        );
        if link.is_some() {
            svg.push_str("</a>");
        }
    }

    // x axis: at most 8 labels, evenly spread, the last run always labelled.
    hline(&mut svg, plot.left, plot.right, plot.bottom, MUTED);
    let stride = n.div_ceil(8);
    for (i, point) in points.iter().enumerate() {
        // The last label is always drawn; another one too close to it is not.
        if i != n - 1 && (i % stride != 0 || n - 1 - i < stride.div_ceil(2)) {
            continue;
        }
        text_at(
            &mut svg,
            px(i),
            plot.bottom + 16.0,
            "middle",
            10.0,
            MUTED,
            &clip(&point.label, 12),
        );
    }
    text_at(
        &mut svg,
        (plot.left + plot.right) / 2.0,
        H - 8.0,
        "middle",
        11.0,
        INK,
        "run (oldest to newest)",
    );
    svg.push_str("</svg>");
    svg
}

/// A small trend line (120×28, no text) for a dashboard row: error rate, p95 latency, cost.
/// `None`, NaN and infinite values are gaps; the newest value gets a dot. Without any value
/// it is an empty box of the same size, so table rows line up.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    const PAD: f64 = 3.0;
    let values: Vec<Option<f64>> = values
        .iter()
        .map(|v| v.filter(|v| v.is_finite()).map(clamp))
        .collect();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" aria-hidden=\"true\">"
    );
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if !present.is_empty() {
        let (min, max) = min_max(&present);
        let span = max / 2.0 - min / 2.0;
        let yf = |v: f64| {
            if span > 0.0 {
                (v / 2.0 - min / 2.0) / span
            } else {
                0.5
            }
        };
        let n = values.len();
        let xf = |i: usize| {
            if n > 1 {
                PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
            } else {
                W / 2.0
            }
        };
        let yp = |v: f64| H - PAD - (H - 2.0 * PAD) * yf(v);
        let mut d = String::new();
        let mut pen_down = false;
        let mut last = None;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let cmd = if pen_down {
                        " L"
                    } else if d.is_empty() {
                        "M"
                    } else {
                        " M"
                    };
                    let _ = write!(d, "{cmd}{:.1} {:.1}", xf(i), yp(*v));
                    pen_down = true;
                    last = Some((xf(i), yp(*v)));
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            svg,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{CURRENT}\" stroke-width=\"1.5\" \
             stroke-linejoin=\"round\"/>"
        );
        if let Some((x, y)) = last {
            let _ = write!(
                svg,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2\" fill=\"{CURRENT_DARK}\"/>"
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

// issue 13, latency by component
/// Segment colours of a stacked bar, in order (then repeated).
const SEGMENTS: [&str; 6] = [
    "#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#6b7280",
];

/// "Where the time went": one horizontal bar (640×84) whose segments are `parts` (a name
/// and its milliseconds) in order, each as wide as its share of the sum, with a legend
/// naming each part, its time and its share. Parts that are not finite and positive are
/// left out; without any it is an empty chart of the same size.
pub fn stacked_bar(title: &str, parts: &[(&str, f64)]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 84.0;
    let parts: Vec<(&str, f64)> = parts
        .iter()
        .filter(|(_, v)| v.is_finite() && *v > 0.0)
        .map(|(n, v)| (*n, clamp(*v)))
        .collect();
    let total: f64 = parts.iter().map(|(_, v)| v / 2.0).sum::<f64>() * 2.0;
    if parts.is_empty() || !total.is_finite() || total <= 0.0 {
        return empty_chart(W, H, title, "no component measured");
    }
    let mut svg = open(W, H, title);
    title_text(&mut svg, title);
    let (left, right, top, height) = (12.0, W - 12.0, 28.0, 18.0);
    let mut x = left;
    let mut legend_x = left;
    for (i, (name, v)) in parts.iter().enumerate() {
        let share = v / total;
        let w = (right - left) * share;
        let color = SEGMENTS[i % SEGMENTS.len()];
        let label = format!("{name} {} ({:.0}%)", with_unit(*v, "ms"), share * 100.0);
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{height:.1}\" \
             fill=\"{color}\"><title>{}</title></rect>",
            escape(&label)
        );
        x += w;
        let shown = clip(&label, 40);
        let width = text_width(&shown, 11.0) + 24.0;
        if legend_x + width <= right {
            let _ = write!(
                svg,
                "<rect x=\"{legend_x:.1}\" y=\"60.0\" width=\"10\" height=\"10\" fill=\"{color}\"/>"
            );
            text_at(&mut svg, legend_x + 14.0, 69.0, "start", 11.0, INK, &shown);
            legend_x += width;
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Text made safe as SVG (XML) character data or a quoted attribute value: `& < > " '` as
/// entities, characters that reorder or hide text and control characters (invalid in XML
/// or invisible) as `\u{..}`; tab, newline and carriage return as a space.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            // U+FFFE and U+FFFF are not XML characters either.
            c if c.is_control() || inert::is_hidden(c) || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push_str(&inert::escaped(c))
            }
            c => out.push(c),
        }
    }
    out
}

/// `href` when a browser would follow it only to a page: a relative reference or an
/// http(s) URL. Anything with a scheme other than http(s) (`javascript:`, `data:`,
/// `vbscript:`) is refused, and so is any whitespace or control character, because browsers
/// drop tabs and newlines from a URL before reading its scheme (`java\tscript:` is
/// `javascript:` to them). Spaces in a relative path must come percent-encoded.
pub fn safe_href(href: &str) -> Option<&str> {
    if href.is_empty()
        || href
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || inert::is_hidden(c))
    {
        return None;
    }
    // A scheme is what precedes the first `:` when no `/`, `?` or `#` comes before it.
    match href.find([':', '/', '?', '#']) {
        Some(i) if href.as_bytes()[i] == b':' => {
            let scheme = href[..i].to_ascii_lowercase();
            (scheme == "http" || scheme == "https").then_some(href)
        }
        _ => Some(href),
    }
}

/// The plot area of a chart, in SVG user units (y grows downwards).
#[derive(Clone, Copy)]
struct Rect {
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
}

impl Rect {
    fn width(&self) -> f64 {
        self.right - self.left
    }
    /// x of a fraction 0..1 of the axis.
    fn x(&self, frac: f64) -> f64 {
        self.left + self.width() * frac.clamp(0.0, 1.0)
    }
    /// y of a fraction 0..1 of the axis (0 at the bottom).
    fn y(&self, frac: f64) -> f64 {
        self.bottom - (self.bottom - self.top) * frac.clamp(0.0, 1.0)
    }
}

/// Rows for labels, each remembering the spans of x it holds, so that a label goes to the
/// first row where it overlaps no other.
struct Shelf {
    rows: Vec<(f64, Vec<(f64, f64)>)>,
}

impl Shelf {
    fn new(ys: &[f64]) -> Shelf {
        Shelf {
            rows: ys.iter().map(|&y| (y, Vec::new())).collect(),
        }
    }

    /// The y of the first row free over `x0..x1` (4 units of air either side); the last row
    /// when none is.
    fn place(&mut self, x0: f64, x1: f64) -> f64 {
        let last = self.rows.len() - 1;
        let i = self
            .rows
            .iter()
            .position(|(_, taken)| taken.iter().all(|&(a, b)| x1 + 4.0 < a || x0 > b + 4.0))
            .unwrap_or(last);
        self.rows[i].1.push((x0, x1));
        self.rows[i].0
    }
}

/// A generous estimate of the width of `text` in a sans-serif font of `size` (no font
/// metrics without fonts; most glyphs are narrower than 0.6 em).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// A value axis: its range, whether logarithmic, and its ticks.
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    /// The step between linear ticks (for their number of decimals).
    step: f64,
    ticks: Vec<f64>,
}

impl Axis {
    /// A linear axis over `min..=max` widened to round ticks (1, 2 or 5 × 10^k apart), about
    /// `target` of them. A zero span is widened around the value.
    fn linear(min: f64, max: f64, target: usize) -> Axis {
        let (mut min, mut max) = (min, max);
        let scale = min.abs().max(max.abs());
        if max - min <= scale * 1e-9 {
            let pad = if scale == 0.0 { 1.0 } else { scale * 0.1 };
            min -= pad;
            max += pad;
            if min < 0.0 && min + pad >= 0.0 {
                // A non-negative value stays on a non-negative axis (rates, counts).
                min = 0.0;
            }
        }
        let raw = (max - min) / target.max(1) as f64;
        let mag = 10f64.powf(raw.log10().floor());
        let norm = raw / mag;
        let step = mag
            * if norm <= 1.0 {
                1.0
            } else if norm <= 2.0 {
                2.0
            } else if norm <= 5.0 {
                5.0
            } else {
                10.0
            };
        if !step.is_finite() || step <= 0.0 {
            // Subnormal spans: no round ticks to be had, the ends are the ticks.
            return Axis {
                lo: min,
                hi: max,
                log: false,
                step: max - min,
                ticks: vec![min, max],
            };
        }
        let lo = (min / step).floor() * step;
        let hi = ((max / step).ceil() * step).max(lo + step);
        let count = ((hi - lo) / step).round().clamp(1.0, 50.0) as usize;
        let ticks = (0..=count).map(|i| lo + i as f64 * step).collect();
        Axis {
            lo,
            hi: lo + count as f64 * step,
            log: false,
            step,
            ticks,
        }
    }

    /// A log axis over `min..=max` (both positive), a little wider at both ends; ticks at
    /// the powers of ten inside, and at 2 and 5 times them when fewer than two decades show.
    fn log(min: f64, max: f64) -> Axis {
        let lo = min.log10() - 0.05;
        let hi = max.log10() + 0.05;
        let mut ticks = Vec::new();
        let dense = hi - lo < 2.0;
        for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
            for m in if dense {
                &[1.0, 2.0, 5.0][..]
            } else {
                &[1.0][..]
            } {
                let t = m * 10f64.powi(k);
                let l = t.log10();
                if l >= lo && l <= hi && t.is_finite() {
                    ticks.push(t);
                }
            }
        }
        Axis {
            lo,
            hi,
            log: true,
            step: 0.0,
            ticks,
        }
    }

    /// Where `v` falls on the axis, 0 at the low end and 1 at the high end.
    fn frac(&self, v: f64) -> f64 {
        let (v, lo, hi) = if self.log {
            (v.max(f64::MIN_POSITIVE).log10(), self.lo, self.hi)
        } else {
            (v, self.lo, self.hi)
        };
        // Halves, so that the span of two values near ±1e300 cannot overflow.
        let span = hi / 2.0 - lo / 2.0;
        if span > 0.0 {
            ((v / 2.0 - lo / 2.0) / span).clamp(0.0, 1.0)
        } else {
            0.5
        }
    }

    /// The step to format tick `t` with: the tick spacing on a linear axis, the tick itself
    /// on a log one (1, 2, 5 × 10^k need as many decimals as their own size).
    fn tick_step(&self, t: f64) -> f64 {
        if self.log { t } else { self.step }
    }
}

/// The finite values, each drawn at most ±1e300 away from zero.
fn finite(values: impl Iterator<Item = Option<f64>>) -> Vec<f64> {
    values
        .flatten()
        .filter(|v| v.is_finite())
        .map(clamp)
        .collect()
}

/// Magnitudes beyond 1e300 at ±1e300 (NaN and infinities are left out before).
fn clamp(v: f64) -> f64 {
    v.clamp(-LIMIT, LIMIT)
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// The `q` quantile of `values` (not empty), interpolating between order statistics (the
/// default of R and NumPy), so p50 of two values is their mean.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    let w = pos - i as f64;
    // a + w(b − a) overflows for a, b of opposite sign near ±1e300; this form does not.
    sorted[i] * (1.0 - w) + sorted[j] * w
}

/// A number for a chart: as many decimals as the step between its neighbours needs,
/// thousands as `k` and millions as `M` from 10 000, and scientific notation for the very
/// large and the very small.
fn number(v: f64, step: f64) -> String {
    let a = v.abs();
    let step = step.abs();
    if v == 0.0 {
        return "0".into();
    }
    if a >= 1e12 || (a < 1e-4 && step < 1e-4) {
        return scientific(v);
    }
    if a >= 1e4 {
        let (div, suffix) = if a >= 1e9 {
            (1e9, "G")
        } else if a >= 1e6 {
            (1e6, "M")
        } else {
            (1e3, "k")
        };
        return format!("{}{suffix}", fixed(v / div, step / div));
    }
    fixed(v, step)
}

fn fixed(v: f64, step: f64) -> String {
    let decimals = if step > 0.0 && step < 1.0 {
        (-step.log10()).ceil().clamp(0.0, 6.0) as usize
    } else {
        0
    };
    let s = format!("{v:.decimals$}");
    // `-0` reads as a defect.
    if s.trim_start_matches('-')
        .trim_matches(['0', '.'])
        .is_empty()
    {
        "0".into()
    } else {
        s
    }
}

/// `2.5e18`: the mantissa with at most two decimals.
fn scientific(v: f64) -> String {
    let s = format!("{v:.2e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exp}")
        }
        None => s,
    }
}

/// A value with its unit for a legend or tooltip: 3 significant digits at least.
fn with_unit(v: f64, unit: &str) -> String {
    let a = v.abs();
    let step = if a == 0.0 {
        1.0
    } else {
        10f64.powf(a.log10().floor() - 2.0)
    };
    let n = number(v, step);
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

/// A share 0..1 as a percentage tick label.
fn percent(share: f64, step: f64) -> String {
    format!("{}%", number(share * 100.0, step * 100.0))
}

/// `text` cut to `max` characters, an ellipsis marking the cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The `<svg>` start tag, the accessible title, and a white background (the chart stays
/// readable on a dark page and when printed).
fn open(w: f64, h: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" font-family=\"{FONT}\"><title>{}</title>\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>",
        escape(title)
    )
}

fn title_text(svg: &mut String, title: &str) {
    let _ = write!(
        svg,
        "<text x=\"12\" y=\"18\" font-size=\"13\" font-weight=\"bold\" fill=\"{INK}\">{}</text>",
        escape(&clip(title, 80))
    );
}

fn empty_chart(w: f64, h: f64, title: &str, message: &str) -> String {
    let mut svg = open(w, h, title);
    title_text(&mut svg, title);
    text_at(&mut svg, w / 2.0, h / 2.0, "middle", 12.0, MUTED, message);
    svg.push_str("</svg>");
    svg
}

fn text_at(svg: &mut String, x: f64, y: f64, anchor: &str, size: f64, color: &str, text: &str) {
    let _ = write!(
        svg,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" font-size=\"{size}\" \
         fill=\"{color}\">{}</text>",
        escape(text)
    );
}

fn vertical_text(svg: &mut String, x: f64, y: f64, text: &str) {
    let _ = write!(
        svg,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{INK}\" \
         transform=\"rotate(-90 {x:.1} {y:.1})\">{}</text>",
        escape(&clip(text, 40))
    );
}

fn hline(svg: &mut String, x1: f64, x2: f64, y: f64, color: &str) {
    let _ = write!(
        svg,
        "<line x1=\"{x1:.1}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\" stroke=\"{color}\"/>"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_only_to_pages() {
        for ok in [
            "run-7.html",
            "../runs/01HX.html",
            "/runs/7",
            "?run=7",
            "#case-3",
            "https://example.com/r/7",
            "HTTP://example.com",
            "./javascript:alert(1)",
        ] {
            assert_eq!(safe_href(ok), Some(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            " javascript:alert(1)",
            "\u{1}javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "\\javascript:alert(1)",
            "run 7.html",
            "",
            "\u{202E}lmth.7",
        ] {
            assert_eq!(safe_href(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(0.0, 1.0), "0");
        assert_eq!(number(250.0, 50.0), "250");
        assert_eq!(number(0.25, 0.05), "0.25");
        assert_eq!(number(12_000.0, 2_000.0), "12k");
        assert_eq!(number(2_500_000.0, 500_000.0), "2.5M");
        assert_eq!(number(1e300, 1e299), "1e300");
        assert_eq!(number(-0.0000001, 0.0000001), "-1e-7");
        assert_eq!(fixed(-0.0001, 0.5), "0");
        assert_eq!(with_unit(1234.6, "ms"), "1235 ms");
        assert_eq!(with_unit(0.01234, ""), "0.0123");
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[1.0, 3.0], 0.5), 2.0);
        assert_eq!(quantile(&[5.0], 0.95), 5.0);
        assert_eq!(quantile(&[-1e300, 1e300], 0.5), 0.0);
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((quantile(&v, 0.95) - 95.05).abs() < 1e-9);
    }

    #[test]
    fn axes_have_round_ticks_covering_the_data() {
        let a = Axis::linear(3.0, 97.0, 5);
        assert_eq!(a.ticks.first(), Some(&0.0));
        assert_eq!(a.ticks.last(), Some(&100.0));
        assert_eq!(a.step, 20.0);
        let flat = Axis::linear(5.0, 5.0, 5);
        assert!(flat.lo < 5.0 && flat.hi > 5.0);
        let zero = Axis::linear(0.0, 0.0, 5);
        assert_eq!((zero.lo, zero.ticks.len() > 1), (0.0, true));
        let huge = Axis::linear(-LIMIT, LIMIT, 5);
        assert!(huge.ticks.iter().all(|t| t.is_finite()));
        assert!(huge.frac(0.0) > 0.4 && huge.frac(0.0) < 0.6);
        let log = Axis::log(20.0, 20_000.0);
        assert_eq!(log.ticks, vec![100.0, 1000.0, 10_000.0]);
        let narrow = Axis::log(150.0, 900.0);
        // 1000 is inside the padding above 900.
        assert_eq!(narrow.ticks, vec![200.0, 500.0, 1000.0]);
    }
}
