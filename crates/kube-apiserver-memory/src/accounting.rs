//! Request accounting: how many requests of each verb reached each resource, so that a test or
//! a benchmark can say how many writes an operator made.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Mutex;

/// The Kubernetes API verbs, as audit logs and RBAC name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    /// Whether the verb changes objects.
    pub(crate) fn is_write(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of request counts by verb and resource (`secrets`, `videosdktokens/status`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts(BTreeMap<(Verb, String), u64>);

impl RequestCounts {
    /// Requests of one verb to one resource (with `/subresource` where there was one).
    pub fn get(&self, verb: Verb, resource: &str) -> u64 {
        self.0
            .get(&(verb, resource.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Writes (create, update, patch, delete, deletecollection) to one resource, its
    /// subresources included.
    pub fn writes_to(&self, resource: &str) -> u64 {
        self.0
            .iter()
            .filter(|((verb, r), _)| {
                verb.is_write()
                    && (r == resource
                        || r.strip_prefix(resource).is_some_and(|s| s.starts_with('/')))
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// All writes to all resources.
    pub fn writes(&self) -> u64 {
        self.0
            .iter()
            .filter(|((verb, _), _)| verb.is_write())
            .map(|(_, n)| n)
            .sum()
    }

    /// Every (verb, resource, count), in order.
    pub fn iter(&self) -> impl Iterator<Item = (Verb, &str, u64)> {
        self.0.iter().map(|((v, r), n)| (*v, r.as_str(), *n))
    }
}

/// One kind of access a client made, as RBAC sees it: who (the `Impersonate-User` a client sent,
/// the way a test stands in for a ServiceAccount), which verb on which group and resource (with
/// `/subresource`), and in which namespace (`None` for cluster-scoped requests and requests
/// across all namespaces).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    /// The impersonated user, if any.
    pub user: Option<String>,
    /// The RBAC verb.
    pub verb: Verb,
    /// The API group (`""` for the core group).
    pub group: String,
    /// The resource, with `/subresource` where there was one.
    pub resource: String,
    /// The namespace of the request.
    pub namespace: Option<String>,
}

/// The live counters behind a server.
#[derive(Default)]
pub(crate) struct Accounting(Mutex<RequestCounts>, Mutex<BTreeSet<Access>>);

impl Accounting {
    /// Notes an access (see [`Access`]); a server-side apply that creates its object is noted
    /// as `create` as well as `patch`, as kube-apiserver authorizes it.
    pub(crate) fn record(&self, access: Access) {
        self.1.lock().expect("accounting lock").insert(access);
    }

    /// Every distinct access since the last reset.
    pub(crate) fn accesses(&self) -> BTreeSet<Access> {
        self.1.lock().expect("accounting lock").clone()
    }

    pub(crate) fn count(&self, verb: Verb, resource: &str) {
        let mut counts = self.0.lock().expect("accounting lock");
        match counts.0.get_mut(&(verb, resource.to_owned())) {
            Some(n) => *n += 1,
            None => {
                counts.0.insert((verb, resource.to_owned()), 1);
            }
        }
    }

    pub(crate) fn snapshot(&self) -> RequestCounts {
        self.0.lock().expect("accounting lock").clone()
    }

    pub(crate) fn reset(&self) {
        *self.0.lock().expect("accounting lock") = RequestCounts::default();
        self.1.lock().expect("accounting lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_include_subresources() {
        let a = Accounting::default();
        a.count(Verb::Patch, "videosdktokens");
        a.count(Verb::Patch, "videosdktokens/status");
        a.count(Verb::Get, "videosdktokens");
        a.count(Verb::Create, "videosdktokensx");
        let s = a.snapshot();
        assert_eq!(s.writes_to("videosdktokens"), 2);
        assert_eq!(s.writes(), 3);
        assert_eq!(s.get(Verb::Get, "videosdktokens"), 1);
    }
}
