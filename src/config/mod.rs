//! Configuration: probe, golden-set and alert-routing YAML files, parsed with
//! `serde_norway`, checked against a schema derived from the raw structs, then validated
//! into the model every other module reads. Every problem is reported at once, each with
//! `file:line:col`, the key path and a hint.

pub mod alerts;
mod diagnostic;
mod document;
mod duration;
mod interpolate;
pub mod labels;
pub use interpolate::{Env, Unset, interpolate};
mod locate;
mod model;
pub mod probe;
mod project;
pub mod report;
pub mod schedule;
mod schema;
pub(crate) mod suggest;

pub use alerts::AlertRouting;
pub use diagnostic::{Diagnostic, Diagnostics, display_path};
pub use document::{Document, key_path};
pub use duration::{DURATION_HINT, parse_duration};
pub use model::*;
pub use probe::default_store_path;
pub use project::{
    EnvLookup, Project, default_paths, find_root, load_golden_dir, load_paths,
    load_paths_without_secrets, load_probes, load_routing, process_env, root_of, validate_paths,
};
pub use schedule::Schedule;
pub use schema::SchemaCheck;
pub use suggest::hint as did_you_mean;
