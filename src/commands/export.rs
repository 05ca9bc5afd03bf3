//! `probity export RUN`: a stored run's observations, one JSON object per line (JSON Lines),
//! each with the prompt it answered, so a failing answer reads beside what was asked.

use std::io::Write;
use std::path::Path;

use super::{CommandError, database, open_for_reading};
use crate::cli::Cli;
use crate::exit;

pub fn export(cli: &Cli, run: &str, out: Option<&Path>) -> Result<i32, CommandError> {
    let store = open_for_reading(&database(cli, &[])?)?;
    let record = store.run(run)?;
    let count = match out {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| CommandError::io(path, e))?;
            let mut writer = std::io::BufWriter::new(file);
            let n = store.export_jsonl(&record.id, &mut writer)?;
            writer.flush().map_err(|e| CommandError::io(path, e))?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            let n = store.export_jsonl(&record.id, &mut lock)?;
            lock.flush()
                .map_err(|e| CommandError::io(Path::new("<stdout>"), e))?;
            n
        }
    };
    eprintln!("exported {count} observations of run {}", record.id);
    Ok(exit::PASSED)
}
