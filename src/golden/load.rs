//! Loading a golden-set file into a validated `GoldenSet`.
