//! Configuration: probe, golden-set and alert-routing YAML files, parsed with
//! `serde_norway`, checked against a schema derived from the raw structs, then validated
//! into the model every other module reads. Every problem is reported at once, each with
//! `file:line:col`, the key path and a hint.

mod model;
pub mod schedule;

pub use model::*;
