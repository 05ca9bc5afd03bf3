//! The `Writer`: stores observations and their scores while a run goes, on a dedicated
//! thread with its own connection, in small batched transactions.
//!
//! Why a thread: the runner must never wait on the disk (a slow fsync at a WAL checkpoint
//! would otherwise show up as probe latency), so sends are non-blocking channel pushes.
//! Why batches: one transaction per row would cap throughput at a few thousand rows/s;
//! a batch is committed every `BATCH_SIZE` messages or `FLUSH_INTERVAL` after its first
//! message, whichever comes first, so a `kill -9` mid-run loses at most that last batch.
//! The same code runs on SQLite and PostgreSQL (the thread owns its connection; for
//! PostgreSQL the blocking client lives only on this thread, never on a runtime worker).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::{SqlContext, StoreError};
use super::rows::{insert_observation, insert_observations, update_scores};
use super::sql::{Conn, Db};
use crate::runner::Observation;
use crate::score::Score;

/// Messages per transaction at most.
pub const BATCH_SIZE: usize = 64;
/// How long the first message of a batch may wait for its commit.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// What the writer thread did, returned by `Writer::finish`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Observations committed.
    pub observations: u64,
    /// Score updates committed.
    pub scores: u64,
    /// Transactions committed.
    pub batches: u64,
}

enum Msg {
    Observation {
        run_id: String,
        observation: Box<Observation>,
        scores: Option<Vec<Score>>,
    },
    Scores {
        run_id: String,
        seq: u64,
        scores: Vec<Score>,
    },
    /// Several of the above at once: one wake-up of the thread instead of many.
    Many(Vec<Msg>),
    /// Commit what came before, then answer with the first error so far (if any).
    Flush(Sender<Option<String>>),
}

/// One write of a batch queued with `Writer::write_all`.
#[derive(Debug)]
pub enum WriteOp {
    /// An observation, with its scores when they are known.
    Observation(Box<Observation>, Option<Vec<Score>>),
    /// The scores of an observation written earlier.
    Scores(u64, Vec<Score>),
}

/// Handle to the writer thread. Sending never blocks; failures are kept and returned by
/// `finish` (or `flush`), and `failed()` lets a long run notice them early and stop.
///
/// Dropping a `Writer` without `finish` still commits everything sent (it waits for the
/// thread), and logs an error it could not return.
pub struct Writer {
    path: PathBuf,
    tx: Option<Sender<Msg>>,
    thread: Option<JoinHandle<Result<WriteStats, StoreError>>>,
    failed: Arc<AtomicBool>,
}

impl Writer {
    /// Start the thread; `conn` is a fresh connection of its own (not the `Store`'s), so
    /// the `Store` may be dropped while the writer still works.
    pub(crate) fn start(conn: Box<dyn Conn>, path: &Path) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let thread = {
            let thread_path = path.to_path_buf();
            let failed = Arc::clone(&failed);
            std::thread::Builder::new()
                .name("probity-store-writer".into())
                .spawn(move || run(Db::new(conn), &thread_path, &rx, &failed))
                .map_err(|source| StoreError::WriterSpawn {
                    path: path.to_path_buf(),
                    source,
                })?
        };
        Ok(Writer {
            path: path.to_path_buf(),
            tx: Some(tx),
            thread: Some(thread),
            failed,
        })
    }

    fn send(&self, msg: Msg) {
        // A send only fails once the thread is gone (it panicked); `finish` reports that.
        if let Some(tx) = &self.tx
            && tx.send(msg).is_err()
        {
            self.failed.store(true, Ordering::Relaxed);
        }
    }

    /// Queue one observation of `run_id` (which `Store::begin_run` created). Never blocks.
    pub fn observation(&self, run_id: &str, observation: Observation) {
        self.send(Msg::Observation {
            run_id: run_id.to_string(),
            observation: Box::new(observation),
            scores: None,
        });
    }

    /// Queue an observation together with its scores (one write). Never blocks.
    pub fn scored(&self, run_id: &str, observation: Observation, scores: Vec<Score>) {
        self.send(Msg::Observation {
            run_id: run_id.to_string(),
            observation: Box::new(observation),
            scores: Some(scores),
        });
    }

    /// Queue the scores of an observation sent earlier. Never blocks.
    pub fn scores(&self, run_id: &str, seq: u64, scores: Vec<Score>) {
        self.send(Msg::Scores {
            run_id: run_id.to_string(),
            seq,
            scores,
        });
    }

    /// Queue several writes of `run_id` in one message. Under load this spares the writer
    /// thread a wake-up per observation. Never blocks.
    pub fn write_all(&self, run_id: &str, writes: Vec<WriteOp>) {
        let msgs = writes
            .into_iter()
            .map(|w| match w {
                WriteOp::Observation(observation, scores) => Msg::Observation {
                    run_id: run_id.to_string(),
                    observation,
                    scores,
                },
                WriteOp::Scores(seq, scores) => Msg::Scores {
                    run_id: run_id.to_string(),
                    seq,
                    scores,
                },
            })
            .collect();
        self.send(Msg::Many(msgs));
    }

    /// Whether the thread has met an error (or died): what was sent since may be lost.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Block until everything sent so far is committed. Returns the first error the
    /// thread met, if any (the writer keeps going after one).
    pub fn flush(&self) -> Result<(), StoreError> {
        let (ack_tx, ack_rx) = mpsc::channel();
        self.send(Msg::Flush(ack_tx));
        match ack_rx.recv() {
            Ok(None) => Ok(()),
            Ok(Some(first_error)) => Err(StoreError::WriterFailed {
                path: self.path.clone(),
                first_error,
            }),
            Err(_) => Err(StoreError::WriterGone {
                path: self.path.clone(),
            }),
        }
    }

    /// Commit everything sent, stop the thread and say what it did, or the first error
    /// it met (e.g. the disk filled up).
    pub fn finish(mut self) -> Result<WriteStats, StoreError> {
        self.join()
    }

    fn join(&mut self) -> Result<WriteStats, StoreError> {
        // Closing the channel is the thread's signal to drain, commit and return.
        drop(self.tx.take());
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(StoreError::WriterGone {
                    path: self.path.clone(),
                })
            }),
            None => Ok(WriteStats::default()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.thread.is_some()
            && let Err(e) = self.join()
        {
            tracing::error!("{e}");
        }
    }
}

/// The thread's state: counters, and the first error (later ones are only logged).
struct Worker<'a> {
    conn: Db,
    path: &'a Path,
    failed: &'a AtomicBool,
    stats: WriteStats,
    first_error: Option<StoreError>,
}

impl Worker<'_> {
    fn record(&mut self, e: StoreError) {
        self.failed.store(true, Ordering::Relaxed);
        if self.first_error.is_none() {
            tracing::error!("{e}");
            self.first_error = Some(e);
        } else {
            tracing::debug!("{e}");
        }
    }

    /// Commit one batch. A message the database rejects on its own merits (unknown run,
    /// duplicate seq, scores without observation) is skipped and the rest committed; a
    /// failure of the database itself (disk full, I/O) loses the batch, since the engine
    /// may already have rolled the transaction back.
    ///
    /// The batch is first tried whole. PostgreSQL aborts a transaction at its first
    /// error, so a batch with a rejected message is rolled back and redone with a
    /// savepoint around each message (both engines), keeping every good one.
    fn commit(&mut self, batch: &mut Vec<Msg>) {
        if batch.is_empty() {
            return;
        }
        let result = match self.apply(batch, false) {
            Err(e) if is_row_error(&e) => self.apply(batch, true),
            other => other,
        };
        batch.clear();
        match result {
            Ok((observations, scores, rejected)) => {
                self.stats.observations += observations;
                self.stats.scores += scores;
                self.stats.batches += 1;
                for e in rejected {
                    self.record(e);
                }
            }
            Err(e) => self.record(e),
        }
    }

    /// One transaction over the batch; with `savepoints`, a rejected message is rolled
    /// back alone and returned among the rejected.
    fn apply(
        &self,
        batch: &[Msg],
        savepoints: bool,
    ) -> Result<(u64, u64, Vec<StoreError>), StoreError> {
        let path = self.path;
        let conn = &self.conn;
        let tx = conn.begin().at(path, "starting a batch of observations")?;
        let (mut observations, mut scores) = (0u64, 0u64);
        let mut rejected = Vec::new();
        if !savepoints {
            // The fast path: each run of consecutive observations in one multi-row INSERT
            // (a score update waits for the insert of its row before it).
            let mut i = 0;
            while i < batch.len() {
                let mut rows = Vec::new();
                while let Some(Msg::Observation {
                    run_id,
                    observation,
                    scores: s,
                }) = batch.get(i)
                {
                    rows.push((run_id.as_str(), &**observation, s.as_deref()));
                    scores += u64::from(s.is_some());
                    i += 1;
                }
                if !rows.is_empty() {
                    insert_observations(conn, path, &rows)?;
                    observations += rows.len() as u64;
                    continue;
                }
                if let Some(Msg::Scores {
                    run_id,
                    seq,
                    scores: s,
                }) = batch.get(i)
                {
                    update_scores(conn, path, run_id, *seq, s)?;
                    scores += 1;
                }
                i += 1;
            }
            tx.commit().at(path, "committing a batch of observations")?;
            return Ok((observations, scores, rejected));
        }
        for msg in batch {
            if savepoints {
                conn.batch("SAVEPOINT msg")
                    .at(path, "writing a batch of observations")?;
            }
            let applied = match msg {
                Msg::Observation {
                    run_id,
                    observation,
                    scores: s,
                } => insert_observation(conn, path, run_id, observation, s.as_deref())
                    .map(|()| (1, u64::from(s.is_some()))),
                Msg::Scores {
                    run_id,
                    seq,
                    scores: s,
                } => update_scores(conn, path, run_id, *seq, s).map(|()| (0, 1)),
                Msg::Flush(_) | Msg::Many(_) => Ok((0, 0)),
            };
            match applied {
                Ok((o, s)) => {
                    observations += o;
                    scores += s;
                    if savepoints {
                        conn.batch("RELEASE SAVEPOINT msg")
                            .at(path, "writing a batch of observations")?;
                    }
                }
                Err(e) if savepoints && is_row_error(&e) => {
                    conn.batch("ROLLBACK TO SAVEPOINT msg; RELEASE SAVEPOINT msg")
                        .at(path, "writing a batch of observations")?;
                    rejected.push(e);
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().at(path, "committing a batch of observations")?;
        Ok((observations, scores, rejected))
    }
}

/// An error about one message, not about the database.
fn is_row_error(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::ObservationForUnknownRun { .. }
            | StoreError::DuplicateObservation { .. }
            | StoreError::ScoresWithoutObservation { .. }
            | StoreError::OutOfRange { .. }
            | StoreError::Encode { .. }
    ) || matches!(e, StoreError::Db { source, .. } if source.is_constraint())
}

fn run(
    conn: Db,
    path: &Path,
    rx: &Receiver<Msg>,
    failed: &AtomicBool,
) -> Result<WriteStats, StoreError> {
    let mut worker = Worker {
        conn,
        path,
        failed,
        stats: WriteStats::default(),
        first_error: None,
    };
    let mut batch: Vec<Msg> = Vec::with_capacity(BATCH_SIZE);
    let mut acks: Vec<Sender<Option<String>>> = Vec::new();
    let mut open = true;
    while open {
        // Idle: wait as long as it takes for the first message of the next batch.
        let Ok(first) = rx.recv() else { break };
        let deadline = Instant::now() + FLUSH_INTERVAL;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Flush(ack) => {
                    acks.push(ack);
                    break;
                }
                Msg::Many(msgs) => batch.extend(msgs),
                msg => batch.push(msg),
            }
            if batch.len() >= BATCH_SIZE {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(msg) => next = Some(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        }
        worker.commit(&mut batch);
        let first_error = worker.first_error.as_ref().map(ToString::to_string);
        for ack in acks.drain(..) {
            // The flusher may have given up waiting; nothing to do then.
            let _ = ack.send(first_error.clone());
        }
    }
    match worker.first_error {
        Some(e) => Err(e),
        None => Ok(worker.stats),
    }
}
