//! Counters of what the operator did, readable in-process (tests, benchmarks, the `dev`
//! command).

use super::decision::ResignReason;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the operator has done since it started.
#[derive(Debug, Default)]
pub struct Metrics {
    token_reconciles: AtomicU64,
    issuances: [AtomicU64; ResignReason::ALL.len()],
    reconcile_errors: AtomicU64,
}

impl Metrics {
    /// Token reconciles that ran to the end (ready or not), not counting API errors.
    pub fn token_reconciles(&self) -> u64 {
        self.token_reconciles.load(Ordering::Relaxed)
    }

    /// Tokens signed for `reason`.
    pub fn issuances(&self, reason: ResignReason) -> u64 {
        self.issuances[index(reason)].load(Ordering::Relaxed)
    }

    /// Tokens signed, for any reason.
    pub fn total_issuances(&self) -> u64 {
        self.issuances
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Reconciles that ended in an API or signing error (and were retried).
    pub fn reconcile_errors(&self) -> u64 {
        self.reconcile_errors.load(Ordering::Relaxed)
    }

    pub(super) fn count_reconcile(&self) {
        self.token_reconciles.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_issuance(&self, reason: ResignReason) {
        self.issuances[index(reason)].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_error(&self) {
        self.reconcile_errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn index(reason: ResignReason) -> usize {
    ResignReason::ALL
        .iter()
        .position(|r| *r == reason)
        .expect("every reason is in ALL")
}
