//! What the operator remembers about each token between its reconciles, in memory only: the
//! consecutive API errors (for backoff), the fingerprint of the status it last wrote (so that a
//! lagging cache does not make it write the same status again) and the expiry of the token it
//! last found or wrote in the Secret (the cap of the retry backoff). What it verified of each
//! Secret is the managed Secrets' own (`managed_secrets::Verified`). Lost on restart by
//! design: every entry can be rebuilt from the API.

use super::cached::CachedToken;
use crate::api::{VideoSdkToken, VideoSdkTokenStatus};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

/// The per-token memory, keyed by a hash of the token's UID.
#[derive(Default)]
pub(crate) struct TokenMemory(Mutex<HashMap<u64, Remembered>>);

/// What the operator remembers about one token.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Remembered {
    /// Consecutive API errors, for backoff.
    errors: u32,
    /// Consecutive reconciles in which a rollout restart target failed (`rollout::sync`), for
    /// its own backoff: a failing workload never makes the token itself retry.
    rollout_failures: u32,
    /// Fingerprint of the status last written.
    status: Option<u64>,
    /// When the token the operator last found or wrote in the Secret expires (Unix seconds).
    /// The retry backoff is capped by the time it has left; the cached status says the same
    /// but can lag: a status written just before the API server became unreachable may never
    /// reach the cache, and without this the retries would back off past the server's return.
    expires: Option<u64>,
}

/// When the token in a token's Secret expires: `remembered` when the operator knows, else what
/// its cached `status` says.
fn known_expiry(remembered: Option<u64>, status: Option<&VideoSdkTokenStatus>) -> Option<u64> {
    remembered.or_else(|| {
        let not_after = status?.not_after.as_ref()?;
        u64::try_from(not_after.0.as_second()).ok()
    })
}

/// What the memory knows a token by: its UID, wherever the token's representation keeps it.
pub(crate) trait TokenUid {
    /// The token's `metadata.uid`.
    fn token_uid(&self) -> Option<&str>;
}

impl TokenUid for VideoSdkToken {
    fn token_uid(&self) -> Option<&str> {
        self.metadata.uid.as_deref()
    }
}

impl TokenUid for CachedToken {
    fn token_uid(&self) -> Option<&str> {
        self.uid()
    }
}

/// A token's key in the memory: a hash of its UID, so that a token deleted and
/// created again starts afresh, and an entry costs about 50 bytes rather than the 170 of an
/// `ObjectRef` key with its four strings.
fn token_key(token: &impl TokenUid) -> u64 {
    uid_key(token.token_uid())
}

/// [`token_key`] of the token with UID `uid`; also the key of what `managed_secrets` records
/// per token.
pub(crate) fn uid_key(uid: Option<&str>) -> u64 {
    let mut hasher = DefaultHasher::new();
    uid.hash(&mut hasher);
    hasher.finish()
}

impl TokenMemory {
    /// Changes what is remembered of `token` (an entry left empty is dropped); returns the
    /// result of `change`.
    fn remember<T>(&self, token: &impl TokenUid, change: impl FnOnce(&mut Remembered) -> T) -> T {
        let key = token_key(token);
        let mut remembered = self.0.lock().expect("not poisoned");
        let entry = remembered.entry(key).or_default();
        let result = change(entry);
        if *entry == Remembered::default() {
            remembered.remove(&key);
        }
        result
    }

    /// What is remembered of `token` (nothing: the default).
    fn recall(&self, token: &impl TokenUid) -> Remembered {
        let remembered = self.0.lock().expect("not poisoned");
        remembered
            .get(&token_key(token))
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn count_error(&self, token: &impl TokenUid) -> u32 {
        self.remember(token, |r| {
            r.errors = r.errors.saturating_add(1);
            r.errors
        })
    }

    pub(crate) fn forget_errors(&self, token: &impl TokenUid) {
        self.remember(token, |r| r.errors = 0);
    }

    /// Counts one more reconcile with a failed rollout restart target; returns the count.
    pub(crate) fn count_rollout_failure(&self, token: &impl TokenUid) -> u32 {
        self.remember(token, |r| {
            r.rollout_failures = r.rollout_failures.saturating_add(1);
            r.rollout_failures
        })
    }

    /// Every rollout restart target succeeded (or was not due).
    pub(crate) fn forget_rollout_failures(&self, token: &impl TokenUid) {
        self.remember(token, |r| r.rollout_failures = 0);
    }

    pub(crate) fn last_status(&self, token: &impl TokenUid) -> Option<u64> {
        self.recall(token).status
    }

    pub(crate) fn remember_status(&self, token: &impl TokenUid, fingerprint: u64) {
        self.remember(token, |r| r.status = Some(fingerprint));
    }

    pub(crate) fn remember_expiry(&self, token: &impl TokenUid, expires: u64) {
        self.remember(token, |r| r.expires = Some(expires));
    }

    /// When the token in `token`'s Secret expires, as last known: remembered from the last
    /// reconcile that read or wrote it, else from its cached `status`.
    pub(crate) fn expiry(
        &self,
        token: &impl TokenUid,
        status: Option<&VideoSdkTokenStatus>,
    ) -> Option<u64> {
        known_expiry(self.recall(token).expires, status)
    }

    /// Forgets a deleted token.
    pub(crate) fn forget(&self, token: &impl TokenUid) {
        self.0
            .lock()
            .expect("not poisoned")
            .remove(&token_key(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remembered_expiry_wins_over_a_lagging_cached_status() {
        assert_eq!(known_expiry(None, None), None, "nothing known");
        assert_eq!(known_expiry(Some(1_800_000_060), None), Some(1_800_000_060));
        let status: VideoSdkTokenStatus =
            serde_json::from_value(serde_json::json!({"notAfter": "2027-01-15T08:00:00Z"}))
                .unwrap();
        assert_eq!(
            known_expiry(None, Some(&status)),
            Some(1_800_000_000),
            "the status"
        );
        assert_eq!(
            known_expiry(Some(1_800_000_060), Some(&status)),
            Some(1_800_000_060),
            "the Secret as the operator last saw it"
        );
    }
}
