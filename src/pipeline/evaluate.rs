//! Judging a finished run: its absolute thresholds, its baseline (a promoted run, a
//! baseline file, or another target probed alongside), and its own history. Loads what the
//! comparison needs from the store and hands plain data to `compare`.

use serde::Serialize;

use super::PipelineError;
use crate::compare::{
    Baseline, Comparison, Finding, Verdict, check_cases, check_thresholds, check_trend, compare,
};
use crate::config::{BaselineRef, Probe};
use crate::store::Store;
use crate::summary::{Evidence, Pairs, TargetResult};

/// Where the baseline of a run comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BaselineChoice {
    /// The probe's `baseline:` setting.
    #[default]
    FromProbe,
    /// The probe's promoted run.
    Latest,
    /// A baseline file.
    File(std::path::PathBuf),
    /// Another target, probed in the same run, interleaved case by case.
    Target(String),
    /// No comparison.
    None,
}

/// What the run was compared with, and how it came out.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonReport {
    /// `promoted run`, `file baselines/x.json`, or `target canary`.
    pub source: String,
    pub run_id: Option<String>,
    pub target: String,
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// The judgement of a run.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub comparison: Option<ComparisonReport>,
    pub notes: Vec<String>,
    /// Too little data to compare (a required baseline missing, or too few samples).
    pub insufficient: bool,
    pub verdict: Option<Verdict>,
}

/// Loads the baseline a run is compared with (`None`: nothing to compare with, and why).
fn load_baseline(
    probe: &Probe,
    store: &Store,
    choice: &BaselineChoice,
    targets: &[TargetResult],
) -> Result<Result<(String, Baseline), String>, PipelineError> {
    let choice = match choice {
        BaselineChoice::FromProbe => match &probe.baseline {
            BaselineRef::Latest => BaselineChoice::Latest,
            BaselineRef::File(p) => BaselineChoice::File(p.clone()),
            BaselineRef::None => BaselineChoice::None,
        },
        other => other.clone(),
    };
    Ok(match choice {
        BaselineChoice::Latest => match store.baseline(&probe.name)? {
            Some(record) => {
                let origin = format!("the promoted baseline of `{}`", probe.name);
                let baseline = Baseline::from_json(&record.data.to_string(), &origin)?;
                Ok(("promoted run".to_string(), baseline))
            }
            None => Err(format!(
                "no baseline yet for `{}`: compare later runs with this one by `probity baseline promote <run>`",
                probe.name
            )),
        },
        BaselineChoice::File(path) => {
            let baseline = Baseline::read(&path)?;
            Ok((
                format!("file {}", crate::config::display_path(&path)),
                baseline,
            ))
        }
        BaselineChoice::Target(name) => match targets.iter().find(|t| t.summary.target == name) {
            Some(t) => {
                let labels = probe
                    .target_named(&name)
                    .map(|t| t.labels.clone())
                    .unwrap_or_default();
                Ok((
                    format!("target {name}"),
                    Baseline::new(
                        &probe.name,
                        "",
                        &name,
                        labels,
                        chrono::Utc::now(),
                        t.evidence.clone(),
                    ),
                ))
            }
            None => Err(format!("target `{name}` was not probed")),
        },
        BaselineChoice::None | BaselineChoice::FromProbe => {
            Err("no baseline configured (`baseline: none`)".to_string())
        }
    })
}

/// Thresholds, baseline drift and trend for the first (primary) target.
pub fn evaluate(
    probe: &Probe,
    store: &Store,
    choice: &BaselineChoice,
    targets: &[TargetResult],
    pairs: Option<&Pairs>,
    seed: u64,
    subset: bool,
) -> Result<Evaluation, PipelineError> {
    let mut eval = Evaluation::default();
    let Some(primary) = targets.first() else {
        return Ok(eval);
    };
    let name = &primary.summary.target;
    eval.findings
        .extend(check_thresholds(&probe.thresholds, &primary.summary));
    eval.findings.extend(check_cases(&primary.cases));
    // A `--case` subset has another case mix than the baseline and the history: comparing
    // them would call the mix a change. Only a target probed in the same run compares.
    if subset && !matches!(choice, BaselineChoice::Target(_)) {
        eval.notes.push(
            "a --case subset is not compared with the baseline or the history (its cases \
             differ from theirs); thresholds and cases still count"
                .to_string(),
        );
        eval.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        eval.verdict = Some(Verdict::of(&eval.findings, false));
        return Ok(eval);
    }

    match load_baseline(probe, store, choice, targets)? {
        Ok((source, baseline)) => {
            if baseline.probe != probe.name {
                eval.notes.push(format!(
                    "the baseline was made for probe `{}`, not `{}`",
                    baseline.probe, probe.name
                ));
            }
            // Pairs only mean something against the target they were paired with.
            let pairs = pairs.filter(|_| matches!(choice, BaselineChoice::Target(_)));
            let comparison = compare(
                &baseline.evidence,
                &primary.evidence,
                pairs,
                &probe.drift,
                name,
                seed,
            );
            eval.findings.extend(comparison.findings.iter().cloned());
            eval.comparison = Some(ComparisonReport {
                source,
                run_id: (!baseline.run_id.is_empty()).then(|| baseline.run_id.clone()),
                target: baseline.target.clone(),
                labels: baseline.labels.clone(),
                comparison,
            });
        }
        // Asked for explicitly (the gate), a missing baseline means nothing was compared:
        // too little data, never a pass. Configured in the probe, it is only a note.
        Err(why) if *choice != BaselineChoice::FromProbe => {
            eval.findings
                .push(crate::compare::insufficient_finding(name, &why));
            eval.insufficient = true;
        }
        Err(why) => eval.notes.push(why),
    }

    // The probe's own history, for the same target only (a gate's canary runs are another
    // endpoint), and only runs that probed something and ran to their end.
    let history: Vec<crate::summary::RunSummary> = store
        .finished_runs(&probe.name, crate::compare::trend::HISTORY)?
        .into_iter()
        .filter(|r| r.status != "could_not_probe" && r.status != "cancelled")
        .filter(|r| {
            r.targets
                .get(0)
                .and_then(|t| t.get("name"))
                .and_then(|n| n.as_str())
                == Some(name.as_str())
        })
        .filter_map(|r| {
            r.summary
                .as_ref()
                .and_then(crate::compare::trend::stored_summary)
        })
        .collect();
    eval.findings.extend(check_trend(
        &primary.summary,
        Some(&primary.evidence),
        &history,
        &probe.drift,
        name,
    ));

    eval.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    eval.insufficient |= eval
        .comparison
        .as_ref()
        .is_some_and(|c| c.comparison.insufficient.is_some());
    eval.verdict = Some(Verdict::of(&eval.findings, eval.insufficient));
    Ok(eval)
}

/// Evidence per target name, as stored with the run.
pub fn evidence_json(targets: &[TargetResult]) -> serde_json::Value {
    serde_json::Value::Object(
        targets
            .iter()
            .map(|t| {
                (
                    t.summary.target.clone(),
                    serde_json::to_value(&t.evidence).unwrap_or_default(),
                )
            })
            .collect(),
    )
}

/// The evidence of one target of a stored run.
pub fn target_evidence(stored: &serde_json::Value, target: &str) -> Option<Evidence> {
    stored
        .get(target)
        .and_then(|e| serde_json::from_value(e.clone()).ok())
}
