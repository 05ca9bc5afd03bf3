//! The HTML run report and history report: self-contained pages with inline CSS and SVG.

pub mod svg;
