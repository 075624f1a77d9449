//! The operator process: the controllers, behind leader election when several replicas run, with
//! its metrics and health endpoints. The `run` command and the HA tests call this.

use crate::controller::{self, Metrics, Settings};
use futures::FutureExt;
use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Name of the Lease the replicas elect a leader on.
pub(crate) const LEASE_NAME: &str = "videosdk-token-operator";

/// Leader election settings.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// This replica's identity in the Lease (its pod name).
    pub identity: String,
    /// How long a leader's lease lasts without renewal: a standby takes over at most this long
    /// after a leader dies without releasing it.
    pub lease_duration_seconds: u64,
    /// How long before the lease expires the leader renews it.
    pub renew_grace_seconds: u64,
}

/// Leader election failed: the Lease could not be created, read, renewed or released (RBAC on
/// `coordination.k8s.io` `leases`, or the API server is unreachable).
#[derive(Debug, thiserror::Error)]
#[error("leader election on Lease {namespace}/{} failed: {source}", LEASE_NAME)]
pub struct LeaderElectionError {
    /// The Lease's namespace.
    pub(crate) namespace: String,
    /// What the lease manager said.
    pub(crate) source: kube_lease_manager::LeaseManagerError,
}

/// How the process ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// `shutdown` completed (SIGTERM); the Lease, if held, was released.
    Shutdown,
    /// Leadership was lost (the Lease was taken over, or could not be renewed): the process
    /// should exit and be restarted as a standby, as controller-runtime operators do, so that
    /// two replicas never reconcile at once.
    LostLeadership,
}

/// State the health endpoints report.
#[derive(Debug, Default)]
pub struct Health {
    /// Whether this replica is the leader (or runs without election).
    pub leading: AtomicBool,
    /// The HTTP listeners, each able to accept connections or not.
    pub listeners: crate::listener::Listeners,
}

/// Runs the operator until `shutdown`; with `election`, only while this replica leads.
pub async fn run(
    client: Client,
    settings: Settings,
    election: Option<LeaderElection>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Ended, LeaderElectionError> {
    let shutdown = shutdown.shared();
    let Some(election) = election else {
        health.leading.store(true, Ordering::Relaxed);
        controller::run(client, settings, metrics, shutdown).await;
        return Ok(Ended::Shutdown);
    };
    let lease_error = |source| LeaderElectionError {
        namespace: election.namespace.clone(),
        source,
    };
    let manager = LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
        .with_namespace(&election.namespace)
        .with_identity(&election.identity)
        .with_duration(election.lease_duration_seconds)
        .with_grace(election.renew_grace_seconds)
        .with_field_manager(format!("{}-lease", crate::rules::labels::FIELD_MANAGER))
        .build()
        .await
        .map_err(lease_error)?;
    let manager = Arc::new(manager);
    tracing::info!(identity = %election.identity, "waiting to become the leader");
    loop {
        tokio::select! {
            changed = manager.changed() => if changed.map_err(lease_error)? { break },
            () = shutdown.clone() => return Ok(Ended::Shutdown),
        }
    }
    tracing::info!(identity = %election.identity, "became the leader");
    health.leading.store(true, Ordering::Relaxed);
    // Keep renewing the lease; completes when leadership is lost.
    let renewing = manager.clone();
    let lost = async move {
        loop {
            match renewing.changed().await {
                Ok(true) => continue,
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(%error, "cannot renew the leader lease");
                    return;
                }
            }
        }
    };
    let lost_flag = Arc::new(AtomicBool::new(false));
    let stop = {
        let (lost_flag, shutdown) = (lost_flag.clone(), shutdown.clone());
        async move {
            tokio::select! {
                () = lost => lost_flag.store(true, Ordering::Relaxed),
                () = shutdown => {},
            }
        }
    };
    controller::run(client, settings, metrics, stop).await;
    health.leading.store(false, Ordering::Relaxed);
    if lost_flag.load(Ordering::Relaxed) {
        tracing::warn!(identity = %election.identity, "lost leadership; stopping");
        return Ok(Ended::LostLeadership);
    }
    manager.release().await.map_err(lease_error)?;
    tracing::info!(identity = %election.identity, "released the leader lease");
    Ok(Ended::Shutdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_election_failure_names_the_lease() {
        let error = LeaderElectionError {
            namespace: "videosdk-system".into(),
            source: kube_lease_manager::LeaseManagerError::NonexistentLease(LEASE_NAME.into()),
        };
        assert_eq!(
            error.to_string(),
            "leader election on Lease videosdk-system/videosdk-token-operator failed: Lease resource `videosdk-token-operator` doesn't exist"
        );
    }
}
