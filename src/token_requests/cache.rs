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
/// one closest to expiry; of the owner holding the most entries when the cache has an
/// [`owner`](Self::owned_by).
pub(crate) struct ExpiringCache<K, V> {
    lifetime: Duration,
    capacity: usize,
    owner: Option<Owner<K>>,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

/// Who an entry is kept for (a caller's username), read from its key.
pub(crate) type Owner<K> = fn(&K) -> &str;

impl<K: Eq + Hash + Clone, V: Clone> ExpiringCache<K, V> {
    /// An empty cache; `capacity` is at least 1.
    pub(crate) fn new(lifetime: Duration, capacity: usize) -> Self {
        ExpiringCache {
            lifetime,
            capacity: capacity.max(1),
            owner: None,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The same cache, sharing its room fairly between owners: when full, it pushes out an
    /// entry of the owner that holds the most (the newcomer counted), so one caller filling it
    /// (a cluster-wide grant asked in thousands of namespaces) pushes out only its own entries
    /// while it holds more than another. Choosing costs one pass over the entries, only on an
    /// insert into a full cache.
    pub(crate) fn owned_by(self, owner: Owner<K>) -> Self {
        ExpiringCache {
            owner: Some(owner),
            ..self
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
            if entries.len() >= self.capacity
                && let Some(k) = self.to_push_out(&entries, &key)
            {
                entries.remove(&k);
            }
        }
        entries.insert(key, (expires, value));
    }

    /// The entry to push out of the full `entries` for `newcomer`: the one closest to expiry, of
    /// the owner holding the most entries if the cache has owners.
    fn to_push_out(&self, entries: &HashMap<K, (Instant, V)>, newcomer: &K) -> Option<K> {
        let soonest = |of: &dyn Fn(&K) -> bool| {
            entries
                .iter()
                .filter(|(k, _)| of(k))
                .min_by_key(|(_, (e, _))| *e)
                .map(|(k, _)| k.clone())
        };
        let Some(owner) = self.owner else {
            return soonest(&|_| true);
        };
        let mut held: HashMap<&str, usize> = HashMap::new();
        for k in entries.keys() {
            *held.entry(owner(k)).or_default() += 1;
        }
        let newcomers = owner(newcomer);
        *held.entry(newcomers).or_default() += 1;
        let most = held.values().copied().max().unwrap_or_default();
        // On a tie the newcomer's owner gives up its own entry.
        let heaviest = if held[newcomers] == most {
            newcomers
        } else {
            held.iter()
                .find(|(_, n)| **n == most)
                .map_or(newcomers, |(o, _)| *o)
        };
        soonest(&|k| owner(k) == heaviest).or_else(|| soonest(&|_| true))
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

    /// The same caches, each shared fairly between owners ([`ExpiringCache::owned_by`]).
    pub(crate) fn owned_by(self, owner: Owner<K>) -> Self {
        AnswerCache {
            granted: self.granted.owned_by(owner),
            refused: self.refused.owned_by(owner),
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
    fn one_owner_filling_the_cache_pushes_out_only_its_own_entries() {
        let cache = ExpiringCache::new(Duration::from_secs(10), 4)
            .owned_by(|(owner, _): &(&str, u32)| *owner);
        let t0 = Instant::now();
        cache.insert(("backend", 0), (), t0, None);
        cache.insert(("other", 0), (), t0, None);
        for n in 0..1000 {
            cache.insert(("flood", n), (), t0 + Duration::from_millis(n.into()), None);
        }
        let later = t0 + Duration::from_secs(2);
        assert_eq!(
            cache.get(&("backend", 0), later),
            Some(()),
            "older, yet kept"
        );
        assert_eq!(cache.get(&("other", 0), later), Some(()));
        assert_eq!(cache.get(&("flood", 999), later), Some(()));
        assert_eq!(cache.len(), 4, "bounded");
        // With every owner at one entry, the newcomer's owner gives up its own (none here:
        // then the soonest to expire goes).
        let cache = ExpiringCache::new(Duration::from_secs(10), 2)
            .owned_by(|(owner, _): &(&str, u32)| *owner);
        cache.insert(("a", 0), (), t0, None);
        cache.insert(("b", 0), (), t0 + Duration::from_secs(1), None);
        cache.insert(("b", 1), (), t0 + Duration::from_secs(2), None);
        assert_eq!(cache.get(&("a", 0), later), Some(()), "b gave up its own");
        assert_eq!(cache.get(&("b", 1), later), Some(()));
        cache.insert(("c", 0), (), t0 + Duration::from_secs(3), None);
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.get(&("a", 0), later),
            None,
            "a tie: the soonest to expire"
        );
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
