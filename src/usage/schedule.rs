//! The daemon's usage import job (filled in below).
