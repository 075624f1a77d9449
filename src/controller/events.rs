//! Kubernetes Events (`events.k8s.io/v1`) about tokens and issuers, with repeats folded into a
//! series as `kubectl describe` expects: the same Event again within [`SERIES_WINDOW`] patches
//! the first one's `series` (count, last observed time) instead of creating another object.
//!
//! kube-runtime's `Recorder` does the same, but keeps a full copy of every Event it published in
//! the last 6 minutes (the Event object, and a key holding the regarding reference again), and
//! scans all of them at every publish. An operator that issues 10,000 tokens in 6 minutes held
//! 10,000 of them, the largest part of its memory while creating, and did 50 million
//! comparisons. This publisher remembers, per recent Event, only a 64-bit fingerprint, the
//! Event's name and its count, and sweeps out old ones at most every [`SWEEP_EVERY`].
//!
//! "The same Event" is the same regarding object (by UID, so that a new resourceVersion does
//! not start a new series), type, reason, action and note, from this controller.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use kube::{Client, Resource};
use serde_json::json;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a published Event can still grow into a series (kube's `Recorder` uses the same).
pub(crate) const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// How often at most the remembered Events are swept for expired ones.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// What a person reads about one occurrence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Occurrence<'a> {
    /// `Normal` or `Warning`.
    pub(crate) type_: EventType,
    /// Why, in UpperCamelCase (`Issued`, `IssuerNotFound`).
    pub(crate) reason: &'a str,
    /// What the operator did or tried (`Sign`, `Restart`).
    pub(crate) action: &'a str,
}

/// An Event published recently, by fingerprint: 32 bytes rather than its name (kept for
/// [`SERIES_WINDOW`] after every issuance, so once per token after a mass issuance).
#[derive(Debug)]
struct Published {
    /// The `eventTime` in its name, in nanoseconds ([`Publisher::event_name`]).
    stamp: i128,
    count: i32,
    last: Instant,
}

#[derive(Debug)]
struct Remembered {
    events: HashMap<u64, Published>,
    swept: Instant,
}

/// Publishes Events for one controller (and one replica of it).
pub(crate) struct Publisher {
    client: Client,
    controller: String,
    instance: String,
    recent: Mutex<Remembered>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("controller", &self.controller)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// `controller` is the `reportingController` (a domain-qualified name); `instance` the
    /// `reportingInstance`, the pod's name where known (it defaults to the controller).
    pub(crate) fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        Publisher {
            client,
            controller: controller.to_owned(),
            instance: instance.unwrap_or_else(|| controller.to_owned()),
            recent: Mutex::new(Remembered {
                events: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Publishes `occurrence` about `object` with `note` (cut to [`NOTE_LENGTH_LIMIT`]): a new
    /// Event, or the next count of the same Event published within [`SERIES_WINDOW`].
    pub(crate) async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        occurrence: Occurrence<'_>,
        note: &str,
    ) -> Result<(), kube::Error> {
        self.publish_about(object.object_ref(&()), occurrence, note)
            .await
    }

    /// [`Self::publish`] about the object `regarding` refers to.
    pub(crate) async fn publish_about(
        &self,
        regarding: ObjectReference,
        occurrence: Occurrence<'_>,
        note: &str,
    ) -> Result<(), kube::Error> {
        let note = &*clip(note, NOTE_LENGTH_LIMIT);
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let fingerprint = fingerprint(&regarding, occurrence, note);
        let now = Instant::now();
        let repeat = self.repeat_of(fingerprint, now);
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let observed = MicroTime(Timestamp::now());
        let count = repeat.as_ref().map_or(1, |(_, count)| *count);
        let stamp = match repeat {
            Some((stamp, count)) => {
                let name = self.event_name(&regarding, stamp);
                let series = json!({"series": EventSeries { count, last_observed_time: observed }});
                events
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                    .await?;
                stamp
            }
            None => {
                let stamp = observed.0.as_nanosecond();
                let event = self.event(regarding, occurrence, note, observed);
                // The Event is created under the name given, so its answer is not decoded (one
                // issuance's Event would otherwise be parsed whole only to be dropped).
                let body = serde_json::to_vec(&event).map_err(kube::Error::SerdeError)?;
                let mut request = kube::core::Request::new(Event::url_path(&(), Some(&namespace)))
                    .create(&PostParams::default(), body)
                    .map_err(kube::Error::BuildRequest)?;
                super::writes::answer_metadata_only(&mut request);
                self.client.request_text(request).await?;
                stamp
            }
        };
        let mut recent = self.recent.lock().expect("not poisoned");
        recent.events.insert(
            fingerprint,
            Published {
                stamp,
                count,
                last: now,
            },
        );
        Ok(())
    }

    /// The name stamp and next count of the Event `fingerprint` when it was published within
    /// the window; sweeps expired Events first when a sweep is due.
    fn repeat_of(&self, fingerprint: u64, now: Instant) -> Option<(i128, i32)> {
        let mut recent = self.recent.lock().expect("not poisoned");
        if now.duration_since(recent.swept) >= SWEEP_EVERY {
            recent
                .events
                .retain(|_, e| now.duration_since(e.last) < SERIES_WINDOW);
            recent.swept = now;
        }
        recent
            .events
            .get(&fingerprint)
            .filter(|e| now.duration_since(e.last) < SERIES_WINDOW)
            .map(|e| (e.stamp, e.count.saturating_add(1)))
    }

    /// An Event's name: the regarding object's (else the controller's), and the `eventTime` of
    /// its first occurrence in hexadecimal nanoseconds, as client-go's recorder names them.
    fn event_name(&self, regarding: &ObjectReference, stamp: i128) -> String {
        let object_name = regarding.name.as_deref().unwrap_or(&self.controller);
        format!("{object_name}.{stamp:x}")
    }

    fn event(
        &self,
        regarding: ObjectReference,
        occurrence: Occurrence<'_>,
        note: &str,
        now: MicroTime,
    ) -> Event {
        Event {
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(self.event_name(&regarding, now.0.as_nanosecond())),
                ..ObjectMeta::default()
            },
            action: Some(occurrence.action.to_owned()),
            reason: Some(occurrence.reason.to_owned()),
            note: Some(note.to_owned()),
            event_time: Some(now),
            type_: Some(
                match occurrence.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .to_owned(),
            ),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            regarding: Some(regarding),
            ..Event::default()
        }
    }
}

/// The most bytes of an Event's note: kube-apiserver refuses a longer one (`NoteLengthLimit`,
/// k8s.io/kubernetes pkg/apis/events/validation), and the Event would be lost.
pub(crate) const NOTE_LENGTH_LIMIT: usize = 1024;

/// `text` cut to at most `max` bytes (`…`, 3 bytes, included), on a character boundary.
pub(crate) fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    const MARK: &str = "…";
    if text.len() <= max {
        return text.into();
    }
    let mut end = max.saturating_sub(MARK.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end]).into()
}

/// What makes two Events the same: the regarding object (UID, else kind, namespace and name),
/// type, reason, action and note.
fn fingerprint(regarding: &ObjectReference, occurrence: Occurrence<'_>, note: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    match &regarding.uid {
        Some(uid) => uid.hash(&mut hasher),
        None => (&regarding.kind, &regarding.namespace, &regarding.name).hash(&mut hasher),
    }
    matches!(occurrence.type_, EventType::Warning).hash(&mut hasher);
    (occurrence.reason, occurrence.action, note).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ListParams;
    use kube_apiserver_memory::{ApiServer, ApiServerOptions};

    /// An issuance's Event, for tests.
    pub(crate) const ISSUED: Occurrence<'static> = Occurrence {
        type_: EventType::Normal,
        reason: "Issued",
        action: "Sign",
    };

    fn regarding(uid: &str, resource_version: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("VideoSdkToken".into()),
            namespace: Some("ns".into()),
            name: Some("t".into()),
            uid: Some(uid.into()),
            resource_version: Some(resource_version.into()),
            ..ObjectReference::default()
        }
    }

    #[test]
    fn long_text_is_clipped_on_a_character_boundary() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("0123456789", 10), "0123456789");
        assert_eq!(clip("0123456789ab", 10), "0123456…");
        // "é" is 2 bytes: a cut inside it moves back before it.
        assert_eq!(clip("012345é789", 10), "012345…");
        let long = "é".repeat(NOTE_LENGTH_LIMIT);
        assert!(clip(&long, NOTE_LENGTH_LIMIT).len() <= NOTE_LENGTH_LIMIT);
    }

    #[test]
    fn the_same_event_is_the_same_object_whatever_its_resource_version() {
        let warning = Occurrence {
            type_: EventType::Warning,
            ..ISSUED
        };
        let base = fingerprint(&regarding("u1", "1"), ISSUED, "note");
        assert_eq!(base, fingerprint(&regarding("u1", "2"), ISSUED, "note"));
        for other in [
            fingerprint(&regarding("u2", "1"), ISSUED, "note"),
            fingerprint(&regarding("u1", "1"), warning, "note"),
            fingerprint(&regarding("u1", "1"), ISSUED, "other note"),
            fingerprint(
                &regarding("u1", "1"),
                Occurrence {
                    reason: "Renewed",
                    ..ISSUED
                },
                "note",
            ),
        ] {
            assert_ne!(base, other);
        }
    }

    /// Against the in-memory API server: a repeat patches the first Event's series; another
    /// note creates another Event; a repeat after the window starts a new Event, and expired
    /// entries are swept.
    #[tokio::test]
    async fn repeats_become_a_series_within_the_window() {
        let server = ApiServer::start(ApiServerOptions::default())
            .await
            .expect("the server starts");
        let client = server.client();
        let object = ConfigMap {
            metadata: ObjectMeta {
                name: Some("t".into()),
                namespace: Some("default".into()),
                uid: Some("u1".into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        };
        let publisher = Publisher::new(client.clone(), "videosdk.live/test", None);
        for note in ["first", "first", "first", "second"] {
            publisher.publish(&object, ISSUED, note).await.unwrap();
        }
        let events: Api<Event> = Api::namespaced(client, "default");
        let mut listed = events.list(&ListParams::default()).await.unwrap().items;
        listed.sort_by_key(|e| e.note.clone());
        let summary: Vec<_> = listed
            .iter()
            .map(|e| {
                (
                    e.note.clone().unwrap_or_default(),
                    e.series.as_ref().map(|s| s.count),
                    e.reporting_instance.clone().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("first".to_owned(), Some(3), "videosdk.live/test".to_owned()),
                ("second".to_owned(), None, "videosdk.live/test".to_owned()),
            ]
        );

        let later = Instant::now() + SERIES_WINDOW;
        let first = fingerprint(&object.object_ref(&()), ISSUED, "first");
        assert_eq!(publisher.repeat_of(first, later), None);
        assert!(
            publisher.recent.lock().unwrap().events.is_empty(),
            "expired Events are forgotten"
        );
        server.shutdown().await;
    }
}
