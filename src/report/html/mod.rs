//! The HTML run report and history report (issue 11): one self-contained file per run
//! (inline CSS, inline SVG charts, no script, nothing fetched), rendered with Handlebars
//! from a view model built out of the store, so a stored run re-renders exactly.
//!
//! The chart functions live in `svg` (pure functions returning SVG markup).
