//! The Normal Events of routine issuances (a token's `Issued` and `Renewed`), posted off the
//! path to Ready.
//!
//! Each issuance costs two writes that a token needs (its Secret, its status); its Event was a
//! third, posted before the status. On a real kube-apiserver the requests of a bulk install are
//! the bottleneck (about 400 writes a second on the benchmark's machine), so that third write
//! made 5,000 tokens Ready in 40.6 s against 30.0 s for a client-go operator without Events
//! (the side-by-side benchmark on a real API server, `docs/src/development/benchmarks.md`). Here the Event is queued once the status is written and
//! posted by one task: at once when no token has been reconciled for [`QUIET`], else at most
//! one per [`TRICKLE`]. A bulk install or a credentials rotation reaches Ready first and its
//! Events follow, in issuance order; a renewal in steady state posts its Event within [`QUIET`].
//! (Posting whenever no reconcile was in flight was not enough: while tokens are being created
//! the operator is idle between them, and its Events doubled the time to create 1,000.)
//!
//! What it costs: an Event can trail its status (by the queue's length, at full speed once the
//! reconciles are done), and at most [`MAX_PENDING`] wait (about 500 bytes each); beyond that,
//! and at shutdown after [`FLUSH_LIMIT`], an Event is dropped with a warning naming how many.
//! The log line of each issuance is written at once and is the complete record. Warnings
//! (problems) are still posted before their status, on the path: a reader who sees a problem in
//! the status finds its Event.

use super::events::{Occurrence, Publisher};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// While tokens are being reconciled, at most one routine Event is posted per this interval, so
/// that Events of a long bulk still appear (10 a second) without taking the API server's
/// capacity from the writes that make tokens Ready.
pub(crate) const TRICKLE: Duration = Duration::from_millis(100);
/// How long no token must have been reconciled before routine Events go at full speed.
pub(crate) const QUIET: Duration = Duration::from_secs(1);
/// The most routine Events waiting: a bulk of 50,000 tokens, about 25 MB.
pub(crate) const MAX_PENDING: usize = 50_000;
/// How long the Events still waiting at shutdown may take to post (within the 30 s a pod gets
/// to terminate, after the reconciles in flight).
pub(crate) const FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// A routine Event waiting to be posted.
struct Pending {
    regarding: ObjectReference,
    occurrence: Occurrence<'static>,
    note: String,
}

/// The queue of routine Events, and the reconciles that hold them back. One per operator, in
/// its `Context`.
pub(crate) struct RoutineEvents {
    pending: Mutex<Queue>,
    /// Woken when an Event is queued.
    wake: Notify,
    /// Reconciles in flight.
    in_flight: AtomicUsize,
    /// When a reconcile last started or ended.
    last_active: Mutex<Instant>,
}

impl Default for RoutineEvents {
    fn default() -> Self {
        RoutineEvents {
            pending: Mutex::default(),
            wake: Notify::new(),
            in_flight: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
        }
    }
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Pending>,
    /// Events dropped since the last warning about it.
    dropped: u64,
}

/// Marks a reconcile in flight until dropped.
pub(crate) struct Busy<'a>(&'a RoutineEvents);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.active();
    }
}

impl RoutineEvents {
    /// Marks a reconcile in flight while the guard lives.
    pub(crate) fn busy(&self) -> Busy<'_> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.active();
        Busy(self)
    }

    fn active(&self) {
        *self.last_active.lock().expect("not poisoned") = Instant::now();
    }

    /// Whether no reconcile is in flight, nor started or ended within [`QUIET`].
    fn quiet(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.last_active.lock().expect("not poisoned").elapsed() >= QUIET
    }

    /// Queues `occurrence` about `object` with `note`, to be posted by [`Self::post`]; drops it
    /// (counted, and warned about once the queue drains) when [`MAX_PENDING`] are waiting.
    pub(crate) fn queue<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        occurrence: Occurrence<'static>,
        note: String,
    ) {
        let mut queue = self.pending.lock().expect("not poisoned");
        if queue.events.len() >= MAX_PENDING {
            queue.dropped += 1;
            return;
        }
        queue.events.push_back(Pending {
            regarding: object.object_ref(&()),
            occurrence,
            note,
        });
        drop(queue);
        self.wake.notify_one();
    }

    /// Posts queued Events through `publisher`, for ever: at once once [`Self::quiet`], else one
    /// per [`TRICKLE`]. A failure to post is logged and the Event dropped, as
    /// an Event posted on the path is.
    pub(crate) async fn post(&self, publisher: &Publisher) {
        loop {
            let Some(next) = self.next() else {
                self.wake.notified().await;
                continue;
            };
            if !self.quiet() {
                tokio::time::sleep(TRICKLE).await;
            }
            publish(publisher, next).await;
        }
    }

    /// Posts what still waits, for at most [`FLUSH_LIMIT`]; warns of what could not be.
    pub(crate) async fn flush(&self, publisher: &Publisher) {
        let drain = async {
            while let Some(next) = self.next() {
                publish(publisher, next).await;
            }
        };
        let _ = tokio::time::timeout(FLUSH_LIMIT, drain).await;
        let mut queue = self.pending.lock().expect("not poisoned");
        queue.dropped += queue.events.len() as u64;
        queue.events.clear();
        warn_dropped(&mut queue);
    }

    /// The next Event to post; warns of Events dropped once the queue is empty again.
    fn next(&self) -> Option<Pending> {
        let mut queue = self.pending.lock().expect("not poisoned");
        let next = queue.events.pop_front();
        if next.is_none() {
            warn_dropped(&mut queue);
        }
        next
    }
}

async fn publish(publisher: &Publisher, event: Pending) {
    if let Err(error) = publisher
        .publish_about(event.regarding, event.occurrence, &event.note)
        .await
    {
        tracing::debug!(%error, "could not publish an Event");
    }
}

fn warn_dropped(queue: &mut Queue) {
    if queue.dropped > 0 {
        tracing::warn!(
            dropped = queue.dropped,
            "{} routine Events (Issued, Renewed) were not posted: more than {MAX_PENDING} waited, or the operator stopped; each issuance's log line has them",
            queue.dropped
        );
        queue.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::events::tests::ISSUED;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::api::events::v1::Event;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::Api;
    use kube::api::ListParams;
    use kube_apiserver_memory::{ApiServer, ApiServerOptions};
    use std::sync::Arc;

    fn object(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    async fn notes(client: kube::Client) -> Vec<String> {
        let events: Api<Event> = Api::namespaced(client, "default");
        let mut notes: Vec<_> = events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|e| e.note)
            .collect();
        notes.sort();
        notes
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_growing() {
        let routine = RoutineEvents::default();
        let token = object("t");
        for i in 0..=MAX_PENDING {
            routine.queue(&token, ISSUED, format!("note {i}"));
        }
        assert_eq!(routine.pending.lock().unwrap().events.len(), MAX_PENDING);
        assert_eq!(routine.pending.lock().unwrap().dropped, 1);
    }

    /// Against the in-memory API server: Events queued while a reconcile is in flight are
    /// posted anyway (the trickle), in order; once idle the rest go at once; a flush at
    /// shutdown posts what is left.
    #[tokio::test]
    async fn queued_events_are_posted_busy_or_idle_and_flushed() {
        let server = ApiServer::start(ApiServerOptions::default())
            .await
            .expect("the server starts");
        let publisher = Arc::new(Publisher::new(server.client(), "videosdk.live/test", None));
        let routine = Arc::new(RoutineEvents::default());
        let poster = tokio::spawn({
            let (routine, publisher) = (routine.clone(), publisher.clone());
            async move { routine.post(&publisher).await }
        });
        let eventually = |want: usize| {
            let client = server.client();
            async move {
                for _ in 0..100 {
                    if notes(client.clone()).await.len() >= want {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                panic!("{want} Events were not posted in 5 s");
            }
        };

        // While busy: one per TRICKLE at most, but not none.
        let busy = routine.busy();
        let queued = Instant::now();
        const QUEUED: usize = 40;
        let names: Vec<String> = (0..QUEUED).map(|i| format!("busy-{i:02}")).collect();
        for name in &names {
            routine.queue(&object(name), ISSUED, name.clone());
        }
        tokio::time::sleep(TRICKLE * 3).await;
        eventually(1).await;
        let posted = notes(server.client()).await.len();
        let bound = queued.elapsed().as_millis() / TRICKLE.as_millis() + 1;
        assert!(
            (1..=bound as usize).contains(&posted),
            "{posted} Events posted while busy in {:?}",
            queued.elapsed()
        );
        // Quiet: the rest at once.
        drop(busy);
        tokio::time::sleep(QUIET).await;
        let quiet = Instant::now();
        routine.queue(&object("idle"), ISSUED, "idle".into());
        eventually(QUEUED + 1).await;
        // At the trickle, the 36 or more left would take 3.6 s.
        assert!(
            quiet.elapsed() < TRICKLE * 30,
            "the rest went at full speed once quiet, not at the trickle"
        );
        poster.abort();

        routine.queue(&object("last"), ISSUED, "last".into());
        routine.flush(&publisher).await;
        let mut want = names;
        want.extend(["idle".to_owned(), "last".to_owned()]);
        assert_eq!(notes(server.client()).await, want);
        assert_eq!(routine.pending.lock().unwrap().events.len(), 0);
        server.shutdown().await;
    }
}
