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
    pub fn problems(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|l| l.problem())
            .collect()
    }
}

/// One listener's state; the accept loop is its only writer.
#[derive(Debug)]
pub struct ListenerStatus {
    name: &'static str,
    address: SocketAddr,
    /// Why it cannot accept connections now (`None`: it can).
    problem: Mutex<Option<String>>,
}

impl ListenerStatus {
    /// A listener that serves (not registered for `/readyz`: see [`Listeners::register`]).
    pub fn new(name: &'static str, address: SocketAddr) -> ListenerStatus {
        ListenerStatus {
            name,
            address,
            problem: Mutex::new(None),
        }
    }

    /// Its name and address, as logs and `/readyz` give them.
    pub fn describe(&self) -> String {
        format!("the {} listener on {}", self.name, self.address)
    }

    fn problem(&self) -> Option<String> {
        self.problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|p| format!("{} {p}", self.describe()))
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
    }
}
