//! A probity project on disk: the folder that holds `probes/` (probe files and the
//! alert-routing file) and `golden-sets/`. Finds files, tells probes from golden sets from
//! routing files, loads each golden set once, and cross-checks what spans files (probe
//! names, alert routes), gathering every problem into one `Diagnostics`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::alerts::{AlertRouting, is_alerts_document, validate_alerts};
use super::diagnostic::{Diagnostic, Diagnostics, display_path};
use super::document::Document;
use super::document::key_path;
use super::interpolate::{Env, interpolate};
use super::model::Probe;
use super::probe::validate_probe;
use crate::golden::{GoldenSet, golden_set_from};

/// Reads environment variables for `${VAR}`; tests pass their own.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Everything found under the given paths.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub probes: Vec<Probe>,
    pub golden_sets: Vec<GoldenSet>,
    pub alerts: Option<AlertRouting>,
    /// Scheduled usage imports (a `usage:` file; issue 13's provider's books).
    pub usage: Vec<super::usage::UsageImportConfig>,
    /// The usage files' unset `${VAR}`s: only the daemon (which imports) and `validate`
    /// need them, so a `probity run` without the admin key still loads.
    pub usage_unset: Vec<Diagnostic>,
}

/// The folder that holds `probes/` for a file inside it; otherwise the file's own folder.
pub fn root_of(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("."));
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    if parent
        .file_name()
        .is_some_and(|n| n == "probes" || n == "golden-sets")
    {
        parent
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    } else {
        parent.to_path_buf()
    }
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::new(dir, 1, 1, format!("cannot read folder: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

#[derive(Default)]
struct Loader {
    golden: BTreeMap<PathBuf, Result<GoldenSet, Vec<Diagnostic>>>,
    problems: Diagnostics,
}

impl Loader {
    /// Loads a golden set once, however many probes list it; its problems are reported once.
    fn golden(&mut self, path: &Path) -> Result<GoldenSet, Vec<Diagnostic>> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let result = self.golden.entry(key).or_insert_with(|| {
            let doc = Document::read(path).map_err(|d| vec![d])?;
            golden_set_from(&doc)
        });
        match result {
            Ok(set) => Ok(set.clone()),
            Err(problems) => {
                // Report the set's own problems on first use only.
                self.problems.extend(std::mem::take(problems));
                Err(Vec::new())
            }
        }
    }
}

fn is_golden_path(path: &Path, doc: &Document) -> bool {
    let in_golden_dir = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "golden-sets");
    in_golden_dir || (doc.value.get("cases").is_some() && doc.value.get("target").is_none())
}

/// Loads every probe, golden set and routing file under `paths` (files or folders; relative
/// paths in probes start at each probe's root) and checks them together.
pub fn load_paths(paths: &[PathBuf], env: EnvLookup<'_>) -> Result<Project, Diagnostics> {
    load(paths, Env::Lookup(env), false)
}

/// As `load_paths`, for `probity validate`: also an error, each unset `${VAR}` of a
/// channel some route names (a command using that route would refuse to run). Channels
/// no route names do not need theirs.
pub fn validate_paths(paths: &[PathBuf], env: EnvLookup<'_>) -> Result<Project, Diagnostics> {
    load(paths, Env::Lookup(env), true)
}

/// As `load_paths`, but no environment variable is looked up: every `${VAR}` counts as
/// set, so a CI job without secrets can still check everything else
/// (`probity validate --no-secrets`). The project it returns has no secrets in it.
pub fn load_paths_without_secrets(paths: &[PathBuf]) -> Result<Project, Diagnostics> {
    load(paths, Env::Unchecked, false)
}

/// Drops the problems a later check found in values interpolation could not resolve: the
/// cause (a variable not set) is already reported once.
/// Under `--no-secrets` nothing was reported for those values, so when the later check is
/// all there is (a `provider: ${PROVIDER}` no stand-in can satisfy), it is kept: a file
/// that cannot load must not pass in silence.
fn without_repeats(
    problems: Vec<Diagnostic>,
    unresolved: &[String],
    env: Env<'_>,
) -> Vec<Diagnostic> {
    let paths: Vec<String> = unresolved.iter().map(|p| key_path(p)).collect();
    let kept: Vec<Diagnostic> = problems
        .iter()
        .filter(|d| !paths.contains(&d.key_path))
        .cloned()
        .collect();
    if kept.is_empty() && matches!(env, Env::Unchecked) {
        problems
    } else {
        kept
    }
}

/// `routed_unset`: report the unset variables of routed channels now (validate) rather
/// than when a command builds the channel.
fn load(paths: &[PathBuf], env: Env<'_>, routed_unset: bool) -> Result<Project, Diagnostics> {
    let mut loader = Loader::default();
    let mut project = Project::default();
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match yaml_files(path) {
                Ok(found) => files.extend(found),
                Err(d) => loader.problems.push(d),
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            loader
                .problems
                .push(Diagnostic::new(path, 1, 1, "no such file or folder"));
        }
    }
    let mut probe_docs = Vec::new();
    for file in &files {
        let mut doc = match Document::read(file) {
            Ok(doc) => doc,
            Err(d) => {
                loader.problems.push(d);
                continue;
            }
        };
        if is_golden_path(file, &doc) {
            if let Ok(set) = loader.golden(file) {
                project.golden_sets.push(set);
            }
            continue;
        }
        let found = interpolate(&mut doc, env);
        let (secrets, unresolved) = (found.secrets, found.unresolved);
        if super::usage::is_usage_document(&doc) {
            // Issue 13's usage imports: an unset admin key is deferred like a channel's.
            let (configs, problems) = super::usage::validate_usage(&doc);
            let unset: Vec<Diagnostic> = found.unset.iter().map(|u| u.diagnostic.clone()).collect();
            loader.problems.extend(
                found
                    .problems
                    .into_iter()
                    .filter(|d| routed_unset || !unset.contains(d)),
            );
            loader
                .problems
                .extend(without_repeats(problems, &unresolved, env));
            if unset.is_empty() {
                project.usage.extend(configs);
            }
            project.usage_unset.extend(unset);
            continue;
        }
        if is_alerts_document(&doc) {
            let (mut routing, problems) = validate_alerts(&doc, secrets);
            // A channel's unset variables only matter to a command that uses the channel
            // (AlertRouting::unset); any other unset variable stays an error here.
            let deferred: Vec<_> = match routing.as_mut() {
                Some(r) => {
                    let rest = r.defer_unset(found.unset.clone());
                    found
                        .unset
                        .iter()
                        .filter(|u| !rest.contains(u))
                        .map(|u| u.diagnostic.clone())
                        .collect()
                }
                None => Vec::new(),
            };
            loader
                .problems
                .extend(found.problems.into_iter().filter(|d| !deferred.contains(d)));
            loader
                .problems
                .extend(without_repeats(problems, &unresolved, env));
            match (routing, &project.alerts) {
                (Some(_), Some(first)) => {
                    loader
                        .problems
                        .push(
                            doc.error("", "a second alert-routing file")
                                .with_hint(format!(
                                    "keep channels and routes in one file; the first is {}",
                                    display_path(&first.file)
                                )),
                        )
                }
                (routing, None) => project.alerts = routing,
                (None, Some(_)) => {}
            }
        } else {
            loader.problems.extend(found.problems);
            probe_docs.push((doc, secrets, unresolved));
        }
    }
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (doc, secrets, unresolved) in probe_docs {
        let root = root_of(&doc.path);
        match validate_probe(&doc, &root, secrets, &mut |p| loader.golden(p)) {
            Ok(probe) => {
                if let Some(other) = names.insert(probe.name.clone(), doc.path.clone()) {
                    loader.problems.push(
                        doc.error(
                            "/name",
                            format!(
                                "probe name `{}` is also used by {}",
                                probe.name,
                                display_path(&other)
                            ),
                        )
                        .with_hint("probe names key runs and baselines, so they must be unique"),
                    );
                }
                project.probes.push(probe);
            }
            Err(problems) => loader
                .problems
                .extend(without_repeats(problems, &unresolved, env)),
        }
    }
    check_routes(&project, &mut loader.problems);
    // `report:` channels name e-mail channels of the routing file, when it is loaded too.
    if let Some(routing) = &project.alerts {
        for probe in project.probes.iter().filter(|p| p.report.sends_mail()) {
            for d in super::report::check_channels(&probe.file, &probe.report, routing) {
                loader.problems.push(d);
            }
        }
    }
    if let Some(routing) = project.alerts.as_ref().filter(|_| routed_unset) {
        loader.problems.extend(routing.routed_unset());
    }
    loader.problems.into_result(project)
}

/// Probes name routes of the routing file; a route that does not exist would drop alerts.
fn check_routes(project: &Project, problems: &mut Diagnostics) {
    for probe in &project.probes {
        let Some(route) = &probe.alert_route else {
            continue;
        };
        let known: Vec<&str> = project
            .alerts
            .as_ref()
            .map(|a| a.routes.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if project.alerts.is_some() && !known.contains(&route.as_str()) {
            let doc_loc = locate_key(&probe.file, "/alerts/route");
            problems.push(
                Diagnostic::new(
                    &probe.file,
                    doc_loc.0,
                    doc_loc.1,
                    format!("unknown alert route `{route}`"),
                )
                .at_key("alerts.route")
                .with_hint(super::suggest::hint(route, &known)),
            );
        }
    }
}

fn locate_key(file: &Path, pointer: &str) -> (usize, usize) {
    Document::read(file)
        .map(|d| {
            let loc = d.value_loc(pointer);
            (loc.line, loc.col)
        })
        .unwrap_or((1, 1))
}

/// Whether `dir` looks like a project folder (holds `probes/` or `golden-sets/`).
fn is_project_dir(dir: &Path) -> bool {
    dir.join("probes").is_dir() || dir.join("golden-sets").is_dir()
}

/// The project folder for `start`: `start` itself or the nearest folder above it that holds
/// `probes/` or `golden-sets/` (so probity works from inside `probes/`, as git does from a
/// subfolder). Returned relative to `start` (`../..`) so paths shown stay short and
/// clickable; `None` when no folder up to the file-system root is a project.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    let absolute = start
        .canonicalize()
        .or_else(|_| std::path::absolute(start))
        .ok()?;
    absolute
        .ancestors()
        .position(is_project_dir)
        .map(|up| match up {
            0 => start.to_path_buf(),
            n => start.join(vec![".."; n].join("/")),
        })
}

/// The default paths of a project: its `probes/` and `golden-sets/` folders.
pub fn default_paths(root: &Path) -> Vec<PathBuf> {
    ["probes", "golden-sets"]
        .iter()
        .map(|d| root.join(d))
        .filter(|p| p.is_dir())
        .collect()
}

/// Resolves `probity run` arguments: each is a probe file, or a probe name found under
/// `probes/` of the project folder (`root` or the nearest one above it, see `find_root`);
/// none means every probe there. The alert-routing file is not loaded: a
/// run sends no alert, so its channels' secrets need not be set (`validate` checks it).
pub fn load_probes(
    specs: &[String],
    root: &Path,
    env: EnvLookup<'_>,
) -> Result<Project, Diagnostics> {
    let root = find_root(root).unwrap_or_else(|| root.to_path_buf());
    let probes_dir = root.join("probes");
    let paths = if specs.is_empty() {
        if !probes_dir.is_dir() {
            return Err(Diagnostic::new(&probes_dir, 1, 1, "no probes folder")
                .with_hint("run `probity init` to create one, or name a probe file")
                .into());
        }
        // Every probe file, but not the routing file.
        yaml_files(&probes_dir)
            .map_err(Diagnostics::from)?
            .into_iter()
            .filter(|f| !Document::read(f).is_ok_and(|d| is_alerts_document(&d)))
            .collect()
    } else {
        specs
            .iter()
            .map(|s| find_probe(s, &probes_dir))
            .collect::<Result<Vec<_>, _>>()?
    };
    load_paths(&paths, env)
}

/// Loads the alert-routing file of the project (the file under `probes/` with `channels:`
/// or `routes:`), for a command that will alert: its `${VAR}`s must then be set. `None`
/// when the project has none.
pub fn load_routing(root: &Path, env: EnvLookup<'_>) -> Result<Option<AlertRouting>, Diagnostics> {
    let root = find_root(root).unwrap_or_else(|| root.to_path_buf());
    let probes_dir = root.join("probes");
    if !probes_dir.is_dir() {
        return Ok(None);
    }
    let files: Vec<PathBuf> = yaml_files(&probes_dir)
        .map_err(Diagnostics::from)?
        .into_iter()
        .filter(|f| Document::read(f).is_ok_and(|d| is_alerts_document(&d)))
        .collect();
    if files.is_empty() {
        return Ok(None);
    }
    Ok(load_paths(&files, env)?.alerts)
}

fn find_probe(spec: &str, probes_dir: &Path) -> Result<PathBuf, Diagnostics> {
    let as_path = PathBuf::from(spec);
    if as_path.is_file() {
        return Ok(as_path);
    }
    for ext in ["yaml", "yml"] {
        let candidate = probes_dir.join(format!("{spec}.{ext}"));
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    // A probe's `name:` need not match its file name.
    let mut names = Vec::new();
    for file in yaml_files(probes_dir).unwrap_or_default() {
        if let Ok(doc) = Document::read(&file) {
            if let Some(name) = doc.value.get("name").and_then(|n| n.as_str()) {
                if name == spec {
                    return Ok(file);
                }
                names.push(name.to_string());
            }
        }
    }
    let known: Vec<&str> = names.iter().map(String::as_str).collect();
    Err(Diagnostic::new(
        &as_path,
        1,
        1,
        format!("no probe file or probe named `{spec}`"),
    )
    .with_hint(if known.is_empty() {
        format!("no probes under {}", display_path(probes_dir))
    } else {
        super::suggest::hint(spec, &known)
    })
    .into())
}

/// Every golden set in a folder (for `probity sim --golden DIR`).
pub fn load_golden_dir(dir: &Path) -> Result<Vec<GoldenSet>, Diagnostics> {
    let mut problems = Diagnostics::default();
    let mut sets = Vec::new();
    match yaml_files(dir) {
        Ok(files) => {
            for file in files {
                match Document::read(&file)
                    .map_err(|d| vec![d])
                    .and_then(|d| golden_set_from(&d))
                {
                    Ok(set) => sets.push(set),
                    Err(p) => problems.extend(p),
                }
            }
        }
        Err(d) => problems.push(d),
    }
    problems.into_result(sets)
}
