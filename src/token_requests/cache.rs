//! A small map whose entries expire after a fixed time and whose size is bounded: what the
//! TokenReview and SubjectAccessReview results are kept in.
//!
//! Own code rather than a caching crate: the need is a `HashMap` with an expiry per entry and a
//! cap (about forty lines); the crates that do this (moka, mini-moka) bring a concurrent
//! eviction machinery and a dozen dependencies for it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries live for `lifetime`; at `capacity` entries, expired ones are dropped first, then the
/// one closest to expiry.
pub(crate) struct ExpiringCache<K, V> {
    lifetime: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> ExpiringCache<K, V> {
    /// An empty cache; `capacity` is at least 1.
    pub(crate) fn new(lifetime: Duration, capacity: usize) -> Self {
        ExpiringCache {
            lifetime,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `key` if it has not expired at `now`.
    pub(crate) fn get(&self, key: &K, now: Instant) -> Option<V> {
        let entries = self.entries.lock().expect("not poisoned");
        entries
            .get(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` for `key` until `now` plus the lifetime, or `until` if that is sooner.
    pub(crate) fn insert(&self, key: K, value: V, now: Instant, until: Option<Instant>) {
        let expires = until.map_or(now + self.lifetime, |u| u.min(now + self.lifetime));
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (e, _)| *e > now);
            if entries.len() >= self.capacity {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, (e, _))| *e)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(key, (expires, value));
    }

    /// How many entries are held (expired ones included until they are pushed out).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().expect("not poisoned").len()
    }
}

/// The answers of one kind of review: granted ones (`T`) and refused ones (`E`) in two caches
/// of the same lifetime and capacity, so that refused answers, which anyone can cause by sending
/// garbage, never push out the granted answer of a caller that authenticated.
pub(crate) struct AnswerCache<K, T, E> {
    granted: ExpiringCache<K, T>,
    refused: ExpiringCache<K, E>,
}

impl<K: Eq + Hash + Clone, T: Clone, E: Clone> AnswerCache<K, T, E> {
    /// Two empty caches of `capacity` answers each, kept for `lifetime`.
    pub(crate) fn new(lifetime: Duration, capacity: usize) -> Self {
        AnswerCache {
            granted: ExpiringCache::new(lifetime, capacity),
            refused: ExpiringCache::new(lifetime, capacity),
        }
    }

    /// The answer for `key` if one is kept at `now`.
    pub(crate) fn get(&self, key: &K, now: Instant) -> Option<Result<T, E>> {
        match self.granted.get(key, now) {
            Some(granted) => Some(Ok(granted)),
            None => self.refused.get(key, now).map(Err),
        }
    }

    /// Keeps `answer` for `key`, in the cache of its kind (see [`ExpiringCache::insert`]).
    pub(crate) fn insert(
        &self,
        key: K,
        answer: Result<T, E>,
        now: Instant,
        until: Option<Instant>,
    ) {
        match answer {
            Ok(granted) => self.granted.insert(key, granted, now, until),
            Err(refused) => self.refused.insert(key, refused, now, until),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_answers_never_push_out_granted_ones() {
        let cache = AnswerCache::<u32, &str, ()>::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        cache.insert(0, Ok("caller"), t0, None);
        for garbage in 1..100 {
            cache.insert(
                garbage,
                Err(()),
                t0 + Duration::from_millis(garbage.into()),
                None,
            );
        }
        assert_eq!(
            cache.get(&0, t0 + Duration::from_secs(1)),
            Some(Ok("caller"))
        );
        assert_eq!(cache.get(&99, t0 + Duration::from_secs(1)), Some(Err(())));
        assert_eq!(cache.get(&1, t0 + Duration::from_secs(1)), None, "bounded");
    }

    #[test]
    fn entries_expire_and_the_size_stays_bounded() {
        let cache = ExpiringCache::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        cache.insert("a", 1, t0, None);
        assert_eq!(cache.get(&"a", t0 + Duration::from_secs(9)), Some(1));
        assert_eq!(cache.get(&"a", t0 + Duration::from_secs(10)), None);
        cache.insert("b", 2, t0 + Duration::from_secs(1), None);
        cache.insert("c", 3, t0 + Duration::from_secs(2), None);
        assert_eq!(cache.len(), 2, "the oldest went");
        assert_eq!(cache.get(&"a", t0 + Duration::from_secs(2)), None);
        assert_eq!(cache.get(&"c", t0 + Duration::from_secs(2)), Some(3));
        cache.insert("d", 4, t0, Some(t0 + Duration::from_secs(1)));
        assert_eq!(
            cache.get(&"d", t0 + Duration::from_secs(1)),
            None,
            "until wins"
        );
    }
}
