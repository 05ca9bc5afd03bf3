//! Server-sent events: an incremental parser for streamed answers.
