//! `probity validate`: load everything, report every problem at once.

use std::path::PathBuf;

use super::CommandError;
use crate::cli::Cli;
use crate::config::{
    default_paths, find_root, load_paths_without_secrets, process_env, validate_paths,
};
use crate::exit;

/// `no_secrets`: every `${VAR}` counts as set (`--no-secrets`).
pub fn validate(cli: &Cli, paths: &[PathBuf], no_secrets: bool) -> Result<i32, CommandError> {
    let paths = if paths.is_empty() {
        // From inside `probes/` (or deeper), the project is the nearest folder above.
        let root = find_root(&cli.root).unwrap_or_else(|| cli.root.clone());
        default_paths(&root)
    } else {
        paths.to_vec()
    };
    if paths.is_empty() {
        return Err(CommandError::Usage(format!(
            "nothing to validate: no probes/ or golden-sets/ in {} or any folder above it (run `probity init`, or name files)",
            crate::config::display_path(&cli.root)
        )));
    }
    let project = if no_secrets {
        load_paths_without_secrets(&paths)
    } else {
        validate_paths(&paths, &process_env)
    }
    .map_err(CommandError::Config)?;
    let cases: usize = project.golden_sets.iter().map(|s| s.cases.len()).sum();
    println!(
        "ok: {} probe{}, {} golden set{} ({cases} case{}){}",
        project.probes.len(),
        if project.probes.len() == 1 { "" } else { "s" },
        project.golden_sets.len(),
        if project.golden_sets.len() == 1 {
            ""
        } else {
            "s"
        },
        if cases == 1 { "" } else { "s" },
        if project.alerts.is_some() {
            ", alert routing"
        } else {
            ""
        },
    );
    Ok(exit::PASSED)
}
