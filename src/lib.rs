//! probity: synthetic probes and statistical evaluation for LLM endpoints in production.
//!
//! Data flows one way (see DESIGN.md): `config` → `runner` (through a `provider`) →
//! `store` → `score` → `summary` → `compare` → `report` / exit code. Every stage is a module
//! here, so tests drive the whole pipeline in-process.

pub mod alert;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod daemon;
pub mod exit;
pub mod golden;
pub mod inert;
pub mod logs;
pub mod metrics;
pub mod pipeline;
pub mod provider;
pub mod report;
pub mod runner;
pub mod score;
pub mod sim;
pub mod stats;
pub mod store;
pub mod summary;
pub mod usage;
