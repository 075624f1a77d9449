//! Whether each listener can serve, for `/readyz`: a listener in an accept back-off (the process
//! is out of file descriptors or memory) or whose accept loop has ended cannot take new
//! connections, and Kubernetes should stop sending it traffic (and, if it lasts, an operator
//! restarts the pod on its readiness alerts) rather than see a port that silently refuses.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The listeners of the process, each with its state (owned by [`crate::operator::Health`]).
#[derive(Debug, Default)]
pub struct Listeners(Mutex<Vec<Arc<ListenerStatus>>>);

impl Listeners {
    /// Adds the listener `name` (e.g. `token requests`) bound on `address`; it is serving until
    /// its accept loop says otherwise.
    pub fn register(&self, name: &'static str, address: SocketAddr) -> Arc<ListenerStatus> {
        let status = Arc::new(ListenerStatus::new(name, address));
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(status.clone());
        status
    }

    /// Why listeners cannot serve now, one sentence each naming the listener; empty when all can.
    pub(crate) fn problems(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|l| l.problem())
            .collect()
    }
}

/// One listener's state.
#[derive(Debug)]
pub struct ListenerStatus {
    name: &'static str,
    address: SocketAddr,
    /// Why it cannot accept connections now (`None`: it can); the accept loop is its only writer.
    problem: Mutex<Option<String>>,
    /// Why it has no certificate to complete TLS handshakes with (`None`: it has one, or serves
    /// plain HTTP); the certificate loader is its only writer.
    certificate: Mutex<Option<String>>,
}

impl ListenerStatus {
    /// A listener that serves (not registered for `/readyz`: see [`Listeners::register`]).
    pub fn new(name: &'static str, address: SocketAddr) -> ListenerStatus {
        ListenerStatus {
            name,
            address,
            problem: Mutex::new(None),
            certificate: Mutex::new(None),
        }
    }

    /// Its name and address, as logs and `/readyz` give them.
    pub(crate) fn describe(&self) -> String {
        format!("the {} listener on {}", self.name, self.address)
    }

    fn problem(&self) -> Option<String> {
        let accepting = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        let certificate = self
            .certificate
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match (accepting.as_ref(), certificate.as_ref()) {
            (Some(p), _) => Some(format!("{} {p}", self.describe())),
            (None, Some(c)) => Some(format!(
                "{} has no usable certificate: {c}",
                self.describe()
            )),
            (None, None) => None,
        }
    }

    /// Why the listener has no certificate to serve (`None`: it has one): while it has none,
    /// every TLS handshake fails, so it cannot serve.
    pub(crate) fn set_certificate_problem(&self, problem: Option<String>) {
        *self
            .certificate
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = problem;
    }

    pub(super) fn set(&self, problem: Option<String>) {
        *self.problem.lock().unwrap_or_else(PoisonError::into_inner) = problem;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_the_listener_until_it_clears() {
        let listeners = Listeners::default();
        let token = listeners.register("token requests", ([127, 0, 0, 1], 8443).into());
        listeners.register("metrics", ([0, 0, 0, 0], 8080).into());
        assert!(listeners.problems().is_empty());
        token.set(Some(
            "cannot accept connections: Too many open files".into(),
        ));
        assert_eq!(
            listeners.problems(),
            [
                "the token requests listener on 127.0.0.1:8443 cannot accept connections: Too many open files"
            ]
        );
        token.set(None);
        assert!(listeners.problems().is_empty());
        token.set_certificate_problem(Some("TLS Secret ns/tls does not exist".into()));
        assert_eq!(
            listeners.problems(),
            [
                "the token requests listener on 127.0.0.1:8443 has no usable certificate: TLS Secret ns/tls does not exist"
            ]
        );
        token.set_certificate_problem(None);
        assert!(listeners.problems().is_empty());
    }
}
