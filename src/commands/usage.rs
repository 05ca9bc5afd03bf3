//! `probity usage import | show`: the provider's own books. `import` reads the admin key
//! from the environment, fetches the window (`crate::usage`) and stores it; `show` prints
//! the stored books beside the probes' own spend. A failed import prints its classified
//! error and exits 2 (key, flags) or 3 (the provider could not be read).

use chrono::Utc;

use super::{CommandError, database, open_existing, open_store};
use crate::cli::{Cli, Format, UsageCommand, UsageImportArgs};
use crate::config::Secret;
use crate::exit;
use crate::usage::{self, Fetcher, UsageError, show};

pub async fn usage(cli: &Cli, command: &UsageCommand) -> Result<i32, CommandError> {
    match command {
        UsageCommand::Import(args) => import(cli, args).await,
        UsageCommand::Show {
            since,
            provider,
            format,
        } => show_books(cli, *since, provider.map(usage::Provider::name), *format),
    }
}

/// The admin key from the variable `var`.
fn key_from(var: &str) -> Result<Secret, UsageError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        _ => Err(UsageError::NoKey { var: var.into() }),
    }
}

async fn import(cli: &Cli, args: &UsageImportArgs) -> Result<i32, CommandError> {
    let provider = args.provider;
    let var = args
        .key_env
        .clone()
        .unwrap_or_else(|| provider.default_key_env().to_string());
    let base = args
        .base_url
        .clone()
        .unwrap_or_else(|| provider.default_base_url().to_string());
    let now = Utc::now();
    let start = usage::window_since(now, args.since);
    let fetched = async {
        let fetcher = Fetcher::new(provider, &base, key_from(&var)?)?;
        usage::fetch_window(&fetcher, start, now, args.hourly).await
    }
    .await;
    let summary = match fetched {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(e.exit_code());
        }
    };
    let store = open_store(&database(cli, &[])?)?;
    let stored = match usage::import(&store, &summary, Utc::now()) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(e.exit_code());
        }
    };
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "provider": summary.provider,
                "window_start": summary.window_start,
                "window_end": summary.window_end,
                "usage_results": summary.usage_rows,
                "cost_results": summary.cost_rows,
                "stored": stored,
                "pages": summary.pages,
            });
            println!("{doc:#}");
        }
        Format::Text => println!(
            "imported {} {} → {} (UTC): {} usage and {} cost results from {} pages; \
             `probity usage show` prints them",
            summary.provider,
            summary.window_start.format("%Y-%m-%d"),
            summary.window_end.format("%Y-%m-%d %H:%M"),
            summary.usage_rows,
            summary.cost_rows,
            summary.pages,
        ),
    }
    Ok(exit::PASSED)
}

fn show_books(
    cli: &Cli,
    since: std::time::Duration,
    provider: Option<&str>,
    format: Format,
) -> Result<i32, CommandError> {
    let now = Utc::now();
    let start = usage::window_since(now, since);
    let books = match open_existing(&database(cli, &[])?)? {
        Some(store) => show::load(&store, provider, start, now)?,
        None => show::books(start, now, &[], &[], &[]),
    };
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&books).map_err(|e| {
                CommandError::Usage(format!("cannot write the usage document: {e}"))
            })?;
            println!("{text}");
        }
        Format::Text => print!("{}", show::text(&books)),
    }
    Ok(exit::PASSED)
}
