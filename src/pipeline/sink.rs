//! Where every observation of a run ends: the store and the summary. Writes wait in
//! `pending` only while more observations are already queued behind them, so under load the
//! store's thread is woken once per burst, and when idle nothing waits at all.

use crate::runner::Observation;
use crate::score::Score;
use crate::store::{WriteOp, Writer};
use crate::summary::Accumulator;

/// Most writes held back before they go to the store anyway.
const MAX_PENDING: usize = 64;

pub(super) struct Sink<'a> {
    pub run_id: &'a str,
    pub writer: &'a Writer,
    pub accumulator: &'a mut Accumulator,
    pub pending: Vec<WriteOp>,
}

impl Sink<'_> {
    /// Not scored (an error, a retried attempt): counted and stored.
    pub fn unscored(&mut self, obs: Observation) {
        self.accumulator.add(&obs, None);
        self.push(WriteOp::Observation(Box::new(obs), None));
    }

    /// Scored on arrival: counted and stored with its scores in one write.
    pub fn scored(&mut self, obs: Observation, scores: Vec<Score>) {
        self.accumulator.add(&obs, Some(&scores));
        self.push(WriteOp::Observation(Box::new(obs), Some(scores)));
    }

    /// Stored on arrival, scored later (judge, embeddings): counted now, scores added.
    pub fn scored_later(&mut self, obs: Observation, scores: Vec<Score>) {
        self.accumulator.add(&obs, Some(&scores));
        self.push(WriteOp::Scores(obs.seq, scores));
    }

    /// To be scored later (judge, embeddings): stored now, without scores, and counted only
    /// when its scores (or its scoring error) come.
    pub fn awaiting_scores(&mut self, obs: &Observation) {
        self.pending
            .push(WriteOp::Observation(Box::new(obs.clone()), None));
    }

    pub fn push(&mut self, write: WriteOp) {
        self.pending.push(write);
        if self.pending.len() >= MAX_PENDING {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.writer
                .write_all(self.run_id, std::mem::take(&mut self.pending));
        }
    }
}
