//! `probity show RUN`: a stored run reprinted as `run` printed it (the text summary kept at
//! the end of the run), or its JSON document (`--format json`, the stored summary).

use super::{CommandError, database, open_for_reading};
use crate::cli::{Cli, Format};
use crate::exit;

pub fn show(cli: &Cli, run: &str, format: Format) -> Result<i32, CommandError> {
    let store = open_for_reading(&database(cli, &[])?)?;
    let record = store.run(run)?;
    let unfinished = || {
        CommandError::Usage(format!(
            "run {} has no summary: it is still going, or its process was killed before it \
             finished (`probity export {}` shows what it stored)",
            record.id, record.id
        ))
    };
    match format {
        Format::Json => {
            let summary = record.summary.as_ref().ok_or_else(unfinished)?;
            println!(
                "{}",
                serde_json::to_string_pretty(summary).unwrap_or_default()
            );
        }
        Format::Text => match store.report_text(&record.id)? {
            Some(text) => print!("{text}"),
            None if record.summary.is_none() => return Err(unfinished()),
            None => {
                return Err(CommandError::Usage(format!(
                    "run {} kept no text summary (it was made by an older probity or by a \
                     command that prints none); `probity show {} --format json` prints its \
                     stored document",
                    record.id, record.id
                )));
            }
        },
    }
    Ok(exit::PASSED)
}
