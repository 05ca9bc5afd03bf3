//! `probity serve`: the scheduler daemon (helper S) and its HTTP endpoints (`http`).

pub mod http;
