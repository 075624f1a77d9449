//! The precondition on every write of a token's Secret: the Secret must still be the one the
//! decision was made from. Server-side apply takes a `metadata.resourceVersion` in the applied
//! configuration as an optimistic-concurrency precondition: a Secret at any other version
//! answers `409 Conflict` ("the object has been modified"), and the reconcile reads it and
//! decides again.
//!
//! A Secret decided to be absent (read as absent, or not among the operator's labelled Secrets)
//! gets [`NO_OBJECT`] as its precondition, a version no stored object has: the apply creates the
//! Secret when there is none (kube-apiserver drops the resourceVersion of an object it creates
//! through the generic registry, as for ConfigMaps and Secrets; kubernetes/kubernetes#106745),
//! and answers 409 when a Secret of that name exists, so that a Secret the operator does not own
//! is never overwritten, although the first issuance reads nothing. An API server that refuses
//! a resourceVersion on create ([`refuses_guarded_create`]) turns this off for the process
//! ([`CreateGuard`]): then an absent Secret is read first, as before.
//!
//! Why it stays: it saves one GET per first issuance (every new token, and every Secret that
//! was deleted), and costs one flag per process and the fallback path above, which no known
//! API server takes.

use std::sync::atomic::{AtomicBool, Ordering};

/// A resourceVersion no stored object has. etcd numbers revisions from 1, the empty store's, so
/// its first write is revision 2; kube-apiserver's resourceVersions are those revisions (the
/// in-memory API server numbers the same way).
pub(super) const NO_OBJECT: &str = "1";

/// Whether the API server creates a Secret through an apply guarded by [`NO_OBJECT`]: assumed
/// until it refuses one.
pub(super) struct CreateGuard(AtomicBool);

impl Default for CreateGuard {
    fn default() -> Self {
        CreateGuard(AtomicBool::new(true))
    }
}

impl CreateGuard {
    /// Whether guarded creates are used.
    pub(super) fn works(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The API server refused a guarded create: read absent Secrets first from now on.
    pub(super) fn refused(&self) {
        if self.0.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "the API server refuses a resourceVersion on an apply that creates a Secret; \
                 each token's Secret is now read before it is first written"
            );
        }
    }
}

/// Whether `error`, the answer to a guarded create, says that the API server does not take a
/// resourceVersion on create: its storage's "resourceVersion should not be set on objects to
/// be created" (500), or a validation error on `metadata.resourceVersion` (400, 422).
pub(super) fn refuses_guarded_create(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => {
            matches!(status.code, 400 | 422 | 500) && status.message.contains("resourceVersion")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure(message, "").with_code(code)))
    }

    #[test]
    fn only_a_refused_resource_version_turns_the_guard_off() {
        assert!(refuses_guarded_create(&api_error(
            500,
            "resourceVersion should not be set on objects to be created"
        )));
        assert!(refuses_guarded_create(&api_error(
            422,
            "Secret \"t\" is invalid: metadata.resourceVersion: Invalid value"
        )));
        // A Secret of that name exists: the guard did its job.
        assert!(!refuses_guarded_create(&api_error(
            409,
            "Operation cannot be fulfilled on secrets \"t\": the object has been modified; please apply your changes to the latest version and try again"
        )));
        // Any other failure is retried as it is.
        assert!(!refuses_guarded_create(&api_error(
            500,
            "etcdserver: request timed out"
        )));
        assert!(!refuses_guarded_create(&api_error(403, "forbidden")));
    }

    #[test]
    fn the_guard_stays_off_once_refused() {
        let guard = CreateGuard::default();
        assert!(guard.works());
        guard.refused();
        guard.refused();
        assert!(!guard.works());
    }
}
