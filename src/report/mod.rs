//! Outputs of a run: the JSON document (a stable, documented schema), the terminal summary,
//! and the JSON Lines export of observations.

pub mod digest;
pub mod email;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod numbers;
pub mod terminal;
// Issue 15: the sequential gate's block in the outputs.
pub mod sequential;
