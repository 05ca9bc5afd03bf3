//! `usage show` totals (filled in below).
