//! Which database a command uses: one rule for every command, so `run` writes where
//! `history`, `compare`, `export`, `show` and `baseline` read.
//!
//! 1. `--db FILE|URL` (or `PROBITY_DB`): an SQLite file, or a `postgres://user@host/db`
//!    URL (shown without its password);
//! 2. else the `store.path` or `store.url` the project's probes declare (all the same, or
//!    an error naming two files that disagree);
//! 3. else `.probity/probity.db` under the project folder.
//!
//! The probes' `store.path` is read from the files themselves (YAML only, no secrets, no
//! validation), so a command that only reads the history works where the probes' secrets
//! are not set; a file that cannot be read is skipped here and reported by the commands
//! that load it.

use std::path::{Path, PathBuf};

use super::CommandError;
use crate::config::{Document, Probe, default_store_path, display_path};

/// A `store.path` some probe file declares, and that file.
#[derive(Debug, Clone, PartialEq)]
struct Declared {
    file: PathBuf,
    path: PathBuf,
}

/// The `store.path` of every probe file under `root/probes/` that sets one, resolved
/// against `root` as the probe loader does.
fn declared_under(root: &Path) -> Vec<Declared> {
    let Ok(entries) = std::fs::read_dir(root.join("probes")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|file| {
            let mut doc = Document::read(&file).ok()?;
            // `${VAR}` and `$${` read as the loader reads them (an unset variable: the
            // loader reports it; here the raw text stands).
            let lookup = |name: &str| std::env::var(name).ok();
            let raw = doc.value.clone();
            if !crate::config::interpolate(&mut doc, crate::config::Env::Lookup(&lookup))
                .problems
                .is_empty()
            {
                doc.value = raw;
            }
            let store = doc.value.get("store")?;
            let path = match store.get("url").and_then(|u| u.as_str()) {
                Some(url) if is_server(Path::new(url)) => PathBuf::from(url),
                Some(url) => root.join(url.strip_prefix("sqlite://").unwrap_or(url)),
                None => root.join(store.get("path")?.as_str()?),
            };
            Some(Declared { path, file })
        })
        .collect()
}

/// The database of the project at `root`, for a command given `db` (`--db`/`PROBITY_DB`)
/// and the probes it loaded (`run`, `gate`: they count even when outside `probes/`).
pub fn resolve(db: Option<&Path>, root: &Path, loaded: &[&Probe]) -> Result<PathBuf, CommandError> {
    if let Some(db) = db {
        return Ok(db.to_path_buf());
    }
    let mut declared = declared_under(root);
    for probe in loaded {
        let default = default_store_path(&probe.root);
        let known = declared.iter().any(|d| same_file(&d.file, &probe.file));
        if !known && probe.store.path != default {
            declared.push(Declared {
                file: probe.file.clone(),
                path: probe.store.path.clone(),
            });
        }
    }
    let Some(first) = declared.first() else {
        let root = loaded.first().map_or(root, |p| p.root.as_path());
        return Ok(default_store_path(root));
    };
    if let Some(other) = declared.iter().find(|d| d.path != first.path) {
        return Err(CommandError::Usage(format!(
            "the probes of this project store their runs in different databases: {} says \
             `store.path: {}`, {} says `store.path: {}`; give every probe the same \
             `store.path` (one database holds the runs, baselines and history), or pick one \
             with --db",
            display_path(&first.file),
            display_path(&first.path),
            display_path(&other.file),
            display_path(&other.path),
        )));
    }
    Ok(first.path.clone())
}

/// Whether a database is a server's (a PostgreSQL URL), not a file.
pub fn is_server(db: &Path) -> bool {
    db.to_str().is_some_and(crate::store::is_postgres_url)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    #[test]
    fn db_flag_wins_then_declared_then_default() {
        let dir = project(&[
            ("probes/a.yaml", "name: a\nstore: { path: data/runs.db }\n"),
            ("probes/b.yaml", "name: b\n"),
            ("probes/alerts.yaml", "channels: {}\n"),
        ]);
        let root = dir.path();
        let flag = Path::new("/tmp/other.db");
        assert_eq!(
            resolve(Some(flag), root, &[]).ok(),
            Some(flag.to_path_buf())
        );
        assert_eq!(
            resolve(None, root, &[]).ok(),
            Some(root.join("data/runs.db"))
        );
        let empty = project(&[]);
        assert_eq!(
            resolve(None, empty.path(), &[]).ok(),
            Some(default_store_path(empty.path()))
        );
    }

    #[test]
    fn a_declared_url_is_the_database_as_is() {
        let dir = project(&[(
            "probes/a.yaml",
            "name: a\nstore: { url: \"postgres://probity@db.example/hist\" }\n",
        )]);
        let db = resolve(None, dir.path(), &[]).expect("resolves");
        assert_eq!(db, PathBuf::from("postgres://probity@db.example/hist"));
        assert!(is_server(&db));
        let file = project(&[(
            "probes/a.yaml",
            "name: a\nstore: { url: \"sqlite://h.db\" }\n",
        )]);
        assert_eq!(
            resolve(None, file.path(), &[]).ok(),
            Some(file.path().join("h.db"))
        );
    }

    #[test]
    fn a_declared_path_is_read_as_the_loader_reads_it() {
        // `$${` is a literal `${` to the loader; the raw text would keep both dollars.
        let dir = project(&[(
            "probes/a.yaml",
            "name: a\nstore: { path: \"data/$${x}.db\" }\n",
        )]);
        assert_eq!(
            resolve(None, dir.path(), &[]).ok(),
            Some(dir.path().join("data/${x}.db"))
        );
    }

    #[test]
    fn probes_that_disagree_are_an_error_naming_both_files() {
        let dir = project(&[
            ("probes/a.yaml", "name: a\nstore: { path: one.db }\n"),
            ("probes/b.yaml", "name: b\nstore: { path: two.db }\n"),
        ]);
        let err = resolve(None, dir.path(), &[]).expect_err("they disagree");
        let msg = err.to_string();
        assert!(msg.contains("a.yaml") && msg.contains("b.yaml"), "{msg}");
        assert!(msg.contains("one.db") && msg.contains("two.db"), "{msg}");
        // --db settles it.
        assert!(resolve(Some(Path::new("x.db")), dir.path(), &[]).is_ok());
    }
}
