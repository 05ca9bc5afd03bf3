//! The command line (clap derive): every subcommand, its flags and their help. Parsing only;
//! `commands/` carries them out.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::sim::SimArgs;

const EXIT_CODES: &str = "\
Exit codes:
  0    passed (warnings allowed)
  1    a verdict failed: a threshold, drift, or the rollout gate (insufficient data too)
  2    usage or configuration error
  3    could not probe: endpoint unreachable, every request failed, or the budget ran out
       before the minimum samples
  130  interrupted (Ctrl-C): what was done is stored as cancelled and printed; never a pass";

/// Synthetic probes and statistical evaluation for LLM endpoints in production.
///
/// probity sends golden prompt sets to deployed endpoints, scores every answer, summarises
/// the run statistically and compares it with a baseline. Its exit code gates rollouts.
#[derive(Debug, Parser)]
#[command(name = "probity", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// Project folder: the one holding probes/ and golden-sets/.
    #[arg(
        long,
        short = 'C',
        global = true,
        value_name = "DIR",
        default_value = "."
    )]
    pub root: PathBuf,
    /// Database of runs, for every command: an SQLite file, or a PostgreSQL URL `postgres://user@host[:port]/db` (password from `${VAR}` in it or PGPASSWORD; shown without it) (default: the `store.path`/`store.url` the project's probes set, else .probity/probity.db under the project folder).
    #[arg(long, global = true, value_name = "FILE|URL", env = "PROBITY_DB")]
    pub db: Option<PathBuf>,
    /// More log output on stderr (-v debug, -vv debug for every library too); RUST_LOG
    /// overrides (default: probity's events at info, other crates' at warn).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log lines on stderr as `text` for people or `json`, one object a line, for log
    /// pipelines; every event of a run carries run_id and probe, every request event
    /// case_id, sample and traceparent.
    #[arg(long, global = true, value_enum, value_name = "FORMAT", default_value_t = crate::logs::LogFormat::Text, env = "PROBITY_LOG_FORMAT")]
    pub log_format: crate::logs::LogFormat,
    /// Put the prompt and the model's output in request log events (off: they may hold
    /// personal data; secrets are redacted either way).
    #[arg(long, global = true)]
    pub log_content: bool,
    /// Share of successful requests logged, 0 to 1 (chosen by traceparent, so the same
    /// request is always chosen or never); failed requests are always logged.
    #[arg(long, global = true, value_name = "RATE", default_value_t = 0.0, value_parser = crate::logs::parse_rate)]
    pub log_sample_successes: f64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check probes, golden sets and the alert-routing file; report every problem at once.
    #[command(
        after_help = "Default paths: probes/ and golden-sets/ under the project folder.\nExits 2 when anything is wrong."
    )]
    Validate {
        /// Files or folders to check.
        paths: Vec<PathBuf>,
        /// Check everything but the secrets' values: every `${VAR}` counts as set (for CI
        /// jobs that have no secrets).
        #[arg(long)]
        no_secrets: bool,
    },
    /// Run probes now: send every case N times, score, summarise, compare.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Write a stored run's observations, one JSON object per line (JSON Lines), each with
    /// the prompt it answered (after redaction).
    Export {
        /// Run id, a unique prefix or suffix of one, or `latest`.
        run: String,
        /// JSON Lines: the default and only format (accepted so older scripts keep working).
        #[arg(long)]
        jsonl: bool,
        /// Write to a file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Reprint a stored run as `run` printed it (text), or its JSON document.
    #[command(after_help = "RUN is a run id, a unique prefix or suffix of one, or `latest`.")]
    Show {
        /// The run (id, unique prefix or suffix, or `latest`).
        run: String,
        /// `text`: the summary as printed at the end of the run; `json`: the stored document.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Compare two stored runs: every metric's test, effect and drift verdict.
    #[command(
        after_help = "RUN_A is the baseline, RUN_B the run judged. Exits 1 when the verdict fails (critical drift or insufficient data)."
    )]
    Compare {
        /// The baseline run (id, unique prefix or suffix, or `latest`).
        run_a: String,
        /// The run judged.
        run_b: String,
        /// Target to compare (default: each run's first).
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run a probe against a candidate target and gate the rollout on the verdict.
    #[command(
        after_help = "Examples:\n  probity gate support-bot --candidate canary\n  probity gate support-bot --candidate canary --baseline default --fail-on warning --junit gate.xml\n\nExits 0 when the verdict passes at --fail-on (a verdict of insufficient_data never does), 1 when it fails, 2 on a usage or configuration error, 3 when nothing could be probed, 130 when interrupted (Ctrl-C)."
    )]
    Gate(GateArgs),
    /// Promote, list, show and export baselines.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Incidents, silences and the alert outbox.
    #[command(subcommand)]
    Alert(AlertCommand),
    /// The database itself: copy a whole history between SQLite and PostgreSQL.
    #[command(subcommand)]
    Store(StoreCommand),
    /// List stored runs, newest first; `*` marks each probe's baseline run.
    History {
        /// Only this probe's runs.
        probe: Option<String>,
        /// How many runs to list.
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Serve a simulated OpenAI/Anthropic-compatible endpoint (demo, tests, fire drills).
    Sim(Box<SimCommand>),
    /// Write the HTML report of a stored run, or the history report of a probe.
    #[command(
        after_help = "RUN is a run id, a unique prefix or suffix of one, or `latest`.\nExamples:\n  probity report latest\n  probity report 20240718T0930 --out run.html\n  probity report --history support-bot -n 50\n\nThe report is written to reports/<probe>/<run_id>.html (the history to reports/<probe>/history.html, beside the run reports its points link to). Templates in reports/templates/ (run.hbs, history.hbs, style.hbs) replace the embedded ones."
    )]
    Report(ReportArgs),
    /// Run the example probes against a built-in simulator: no network, no key, no setup.
    Demo(DemoArgs),
    /// Run every probe with a `schedule:` on that schedule until SIGTERM / SIGINT
    /// (SIGHUP reloads the configuration).
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// The provider's own books: import the organisation's usage and cost reports (admin
    /// key), and show them beside the probes' own spend.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// Write a starter probe, golden set and alert-routing file.
    Init {
        /// Folder to write into (default: the project folder).
        dir: Option<PathBuf>,
        /// Overwrite files that exist.
        #[arg(long)]
        force: bool,
    },
}

/// How a run's result is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable summary.
    Text,
    /// The JSON document (schema: docs/json-output.md).
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Probe files, or names of probes under probes/ (none: every probe).
    pub probes: Vec<String>,
    /// Samples per case, overriding the probe (and every case).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub samples: Option<u32>,
    /// Requests in flight, overriding the probe.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Probe this named target (from `targets:`) instead of `target`.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Output on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the JSON document to this file (one probe) or folder (several).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Render every prompt and print the plan (requests per target, worst-case cost against
    /// the budget); send nothing, store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only the cases whose `set/case-id` matches: a glob when PATTERN holds `*`, `?` or
    /// `[`, e.g. `support/refund-*`, else a substring, e.g. `refund`.
    #[arg(long = "case", value_name = "PATTERN")]
    pub case: Option<String>,
    /// Do not alert, even when the probe has `alerts:` (no incident changes, nothing sent);
    /// no e-mail summary (`report.email`) is sent either.
    #[arg(long)]
    pub no_alerts: bool,
    /// Push each probe's run metrics to this Prometheus Pushgateway
    /// (`PUT URL/metrics/job/probity/probe/<name>`). A failed push is a warning on stderr;
    /// it does not change the exit code.
    #[arg(long, value_name = "URL")]
    pub pushgateway: Option<String>,
    #[command(flatten)]
    pub report: ReportFlags,
}

/// Where `run` and `gate` write the HTML report of each run.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportFlags {
    /// Write no HTML report.
    #[arg(long, conflicts_with = "report_dir")]
    pub no_report: bool,
    /// Write the HTML report under DIR instead of reports/ under the project folder:
    /// DIR/<probe>/<run_id>.html, copied to DIR/<probe>/latest.html.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

/// `probity report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run (id, unique prefix or suffix, or `latest`); not with --history.
    #[arg(required_unless_present = "history", conflicts_with = "history")]
    pub run: Option<String>,
    /// The trend of this probe's runs (its `name:`) instead of one run.
    #[arg(long, value_name = "PROBE")]
    pub history: Option<String>,
    /// How many of the probe's latest runs the history shows.
    #[arg(long, short = 'n', default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Write the page to FILE instead (`-`: stdout).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The reports folder (default: reports/ under the project folder); its templates/
    /// folder overrides the embedded templates.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

/// `probity sim`: the simulator's own flags. The global `--db` and `-C` mean nothing to
/// it, so they are declared here hidden (clap then does not list the global ones).
#[derive(Debug, Args)]
pub struct SimCommand {
    #[command(flatten)]
    pub args: SimArgs,
    #[arg(long, hide = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    #[arg(long, short = 'C', hide = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// The severity at which a gate fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any warning fails the gate.
    Warning,
    /// Only critical findings (and insufficient data) fail it.
    Critical,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Probe file or name.
    pub probe: String,
    /// The target to roll out: a key of the probe's `targets:` (named alternatives merged
    /// over `target`, e.g. `targets: { canary: { base_url: ... } }`), or `default`.
    #[arg(long, value_name = "TARGET")]
    pub candidate: String,
    /// What the candidate must match: `latest` (the promoted run), a baseline file, or another target (both probed in one run, interleaved).
    #[arg(long, value_name = "latest|FILE|TARGET", default_value = "latest")]
    pub baseline: String,
    /// Fail on warnings too, or only on critical findings.
    #[arg(long, value_enum, default_value_t = FailOn::Critical)]
    pub fail_on: FailOn,
    /// Samples per case, overriding the probe.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub samples: Option<u32>,
    /// Requests in flight per target, overriding the probe.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary here (default: appended to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the JSON document here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Output on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Alert through the probe's `alerts:` route as `run` does, and send its e-mail summary
    /// (`report.email`) (a gate's exit code is the CI signal, so by default it does neither).
    #[arg(long)]
    pub alert: bool,
    #[command(flatten)]
    pub report: ReportFlags,
    /// Test after every round (one sample per case on both sides) with anytime-valid
    /// methods, and stop as soon as the verdict is clear: fewer calls for the same error
    /// rates. Never more than `samples`. Also `drift: { sequential: true }` in the probe.
    #[arg(long)]
    pub sequential: bool,
}

/// `probity alert ...`.
#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Open incidents (firing, pending `for`, or silenced).
    List,
    /// Silence a probe's notifications (one rule, or all): incidents are still tracked.
    Silence {
        /// The probe's name.
        probe: String,
        /// Only this rule (e.g. `threshold:error_rate`); default: every rule of the probe.
        #[arg(long, value_name = "RULE")]
        rule: Option<String>,
        /// How long, e.g. `2h`.
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Why (shown by `alert silences`).
        #[arg(long)]
        reason: String,
    },
    /// Acknowledge an open incident (someone is on it): its reminders (`repeat`) stop; it
    /// stays open and still resolves when the probe recovers.
    Ack {
        /// The incident's id (`alert list`).
        id: i64,
        /// Why, or who is on it (shown by `alert list`).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Silences in force.
    Silences,
    /// Lift a silence.
    Unsilence {
        /// The silence's id (`alert silences`).
        id: i64,
    },
    /// Notifications not delivered yet (pending) or refused for good (failed), with the
    /// last error.
    Outbox,
    /// Fire drill: send a clearly marked test notification through the routing file's
    /// real channels (only `alerts.yaml` is loaded), then its resolve; print each channel's
    /// result and latency. Exits 0 only if every channel accepted.
    Test {
        /// The route to test (default: `default`).
        #[arg(long, value_name = "NAME")]
        route: Option<String>,
        /// Test this one channel instead of a route.
        #[arg(long, value_name = "NAME", conflicts_with = "route")]
        channel: Option<String>,
        /// Which severity of the route to test.
        #[arg(long, value_enum, default_value_t = AlertSeverity::Critical)]
        severity: AlertSeverity,
        /// Send the trigger only.
        #[arg(long)]
        no_resolve: bool,
    },
}

/// A severity on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlertSeverity {
    Critical,
    Warning,
    Info,
}

/// `probity store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy every table (runs, observations, prompts, baselines, incidents, outbox, silences,
    /// digests) from one database into another, either engine to either. Resumable: a run
    /// already copied whole is skipped, a partial one redone in one transaction; the other
    /// tables are upserted. Prints the rows per table on both sides and fails when the
    /// destination has fewer than the source.
    #[command(
        after_help = "Examples:\n  probity store copy --from sqlite://.probity/probity.db --to 'postgres://probity@db.internal/probity'\n  PGPASSWORD=... probity store copy --from .probity/probity.db --to postgres://probity@127.0.0.1:5433/hist"
    )]
    Copy {
        /// The database copied from: `sqlite://PATH`, a file path, or `postgres://user@host/db`.
        #[arg(long, value_name = "DB")]
        from: String,
        /// The database copied into (created and migrated if need be).
        #[arg(long, value_name = "DB")]
        to: String,
    },
}

/// `probity baseline ...`.
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Make a finished run its probe's baseline (`baseline: latest`). An unfinished or
    /// cancelled (interrupted) run is refused unless --force.
    Promote {
        /// Run id, unique prefix or suffix, or `latest`.
        run: String,
        /// Which target of the run (default: its first).
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
        /// Promote a cancelled or unfinished run anyway (its samples are what it got).
        #[arg(long)]
        force: bool,
    },
    /// List the promoted baselines.
    List,
    /// Show one probe's baseline.
    Show {
        /// The probe's name (its `name:`), whose promoted baseline is shown.
        probe: String,
    },
    /// Write a probe's baseline to a self-contained file a CI job can commit.
    Export {
        /// The probe's name (its `name:`), whose promoted baseline is written.
        probe: String,
        /// The file to write, e.g. baselines/support-bot.json.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
}

const SERVE_HELP: &str = "\
Schedules: 5-field crontab lines (`*/15 * * * *`, `0 9 * * MON-FRI`; Sunday is 0 or 7),
6 fields with seconds first (`*/10 * * * * *`), `@hourly`/`@daily`/`@weekly`/`@monthly`,
`@every 30s`, in the probe's `timezone:` (default UTC). A tick that comes while the probe's
previous run is still going is skipped and logged. `catch_up: true` (the default) runs a
tick missed while the daemon was down once on start; `jitter: 30s` delays a probe's starts
by a fixed share of 30s.

Signals: SIGTERM / SIGINT stop scheduling, give running probes --grace to finish, cancel
the rest (stored as cancelled) and exit 0; a second one cancels at once. SIGHUP reloads and
validates the configuration; on error the old one stays and the log says why.

Exits 0 after a clean shutdown, 2 when the configuration is wrong at start.";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Probe runs going at once, over every probe; a tick waits for a free slot.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_running: u32,
    /// After SIGTERM / SIGINT, how long running probes get to finish before they are
    /// cancelled, e.g. `20s`, `1m`.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = crate::config::parse_duration)]
    pub grace: std::time::Duration,
    /// Where /metrics, /healthz, /readyz and the dashboard listen (port 0: any free port,
    /// said on stderr).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,
    /// Require `Authorization: Bearer <token>` on every path but /healthz, the token read
    /// from the environment variable VAR.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Each run's HTML report, as `probity run` writes it.
    #[command(flatten)]
    pub report: ReportFlags,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the JSON results (and the demo's database) go.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
}

/// `probity usage ...`.
#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Fetch the organisation's usage (tokens, requests per model) and cost (USD per line
    /// item) reports of the window and store them; a window imported again is replaced.
    #[command(after_help = USAGE_IMPORT_HELP)]
    Import(UsageImportArgs),
    /// The stored buckets of the window, their totals per model, and the probes' own spend
    /// of the same window.
    Show {
        /// The window: from this long ago (rounded down to midnight UTC) until now.
        #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = crate::usage::parse_since)]
        since: std::time::Duration,
        /// Only this provider.
        #[arg(long, value_enum)]
        provider: Option<crate::usage::Provider>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

const USAGE_IMPORT_HELP: &str = "\
The admin key is read from OPENAI_ADMIN_KEY / ANTHROPIC_ADMIN_KEY (or --key-env VAR); it is
sent in the provider's header only, never stored, printed or logged.
  OpenAI:    an admin key (sk-admin-...) from the organisation settings; reads
             /v1/organization/usage/completions and /v1/organization/costs
  Anthropic: an Admin API key (sk-ant-admin...); reads
             /v1/organizations/usage_report/messages and /v1/organizations/cost_report

Exits 0 when stored, 2 when the key is missing or refused (or a flag is wrong), 3 when the
provider could not be read (unreachable, an error status, still rate limited).";

/// `probity usage import`.
#[derive(Debug, Args)]
pub struct UsageImportArgs {
    /// Whose reports.
    #[arg(long, value_enum)]
    pub provider: crate::usage::Provider,
    /// The window: from this long ago (rounded down to midnight UTC) until now.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = crate::usage::parse_since)]
    pub since: std::time::Duration,
    /// The API's base URL (default: https://api.openai.com/v1 or https://api.anthropic.com/v1).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The environment variable holding the admin key (default: OPENAI_ADMIN_KEY or
    /// ANTHROPIC_ADMIN_KEY).
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
    /// Hourly usage buckets instead of daily ones (costs are daily at both providers).
    #[arg(long)]
    pub hourly: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
