//! Watches: the events a watch replays and then streams, filtered by namespace and selectors
//! and put in the form the client asked for, with bookmarks, timeouts and closing on demand.

use super::Shared;
use super::error::ApiError;
use super::events;
use super::representation;
use super::request::flag;
use super::resources::ResourceDef;
use super::responses::json_response;
use super::selector::Selectors;
use super::store::{Event, EventType, event_line};
use super::stored::Stored;
use super::table::TableForm;
use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How long a watch without `timeoutSeconds` stays open (kube-apiserver picks 30–60 min).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// What one watch sends: its namespace and selectors decide which events it sees, and an
/// object that stops (starts) matching is seen as DELETED (ADDED).
struct WatchFilter {
    namespace: Option<String>,
    selectors: Selectors,
    form: WatchForm,
    /// Whether a Table event has carried the column definitions yet.
    sent_columns: bool,
}

/// What each event of a watch carries as its `object`.
pub(crate) enum Embedded {
    /// The object.
    Object,
    /// Its `PartialObjectMetadata`.
    Metadata,
    /// A one-row Table of it.
    Table(TableForm),
}

/// The form of what a watch sends.
pub(crate) struct WatchForm {
    pub(crate) embedded: Embedded,
    /// Core Events renamed to `events.k8s.io/v1`.
    pub(crate) events_v1: bool,
    /// The resource the client watches (names its bookmarks).
    pub(crate) served: Arc<ResourceDef>,
}

impl WatchFilter {
    fn matches(&self, s: &Stored) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| s.summary.namespace == ns)
            && self.selectors.matches(s)
    }

    fn line(&mut self, e: &Event) -> Option<Bytes> {
        let kind = if self.namespace.is_none() && self.selectors.is_empty() {
            e.kind
        } else {
            let now = self.matches(&e.object);
            let before = e.old.as_ref().is_some_and(|o| self.matches(o));
            match (e.kind, before, now) {
                (EventType::Modified, false, true) => EventType::Added,
                (EventType::Modified, true, false) => EventType::Deleted,
                (EventType::Modified, false, false) => return None,
                (_, _, false) => return None,
                (kind, _, true) => kind,
            }
        };
        // An object that stopped matching is sent as kube-apiserver's watch cache sends it: its
        // content before the change (what matched), at the event's resourceVersion, so that a
        // client can still tell what left its selection.
        let left = match (&e.old, kind) {
            (Some(old), EventType::Deleted) if e.kind == EventType::Modified => {
                Some(at_resource_version(&old.json, e.rv))
            }
            _ => None,
        };
        let json = left.as_ref().unwrap_or(&e.object.json);
        let served = || {
            if self.form.events_v1 {
                events::from_core_bytes(json)
            } else {
                json.clone()
            }
        };
        let object = match &self.form.embedded {
            Embedded::Metadata => representation::partial_bytes(json),
            Embedded::Table(table) => {
                let object: Value =
                    serde_json::from_slice(&served()).expect("stored objects are valid JSON");
                let headers = !std::mem::replace(&mut self.sent_columns, true);
                let table = table.watch_event(&object, headers);
                Bytes::from(serde_json::to_vec(&table).expect("JSON values serialise"))
            }
            Embedded::Object if kind == e.kind && !self.form.events_v1 => {
                return Some(e.line.clone());
            }
            Embedded::Object => served(),
        };
        Some(event_line(kind.as_str(), &object))
    }
}

fn bookmark(form: &WatchForm, rv: u64, initial_events_end: bool) -> Bytes {
    let def = &form.served;
    let (kind, api_version) = if matches!(form.embedded, Embedded::Metadata) {
        (
            "PartialObjectMetadata".to_owned(),
            "meta.k8s.io/v1".to_owned(),
        )
    } else {
        (def.kind.clone(), def.api_version())
    };
    let mut object = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv.to_string()}});
    if initial_events_end {
        object["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    Bytes::from(format!(
        "{}\n",
        json!({"type": "BOOKMARK", "object": object})
    ))
}

/// Answers a watch request: a streamed body fed by a task of its own.
pub(crate) fn watch(
    shared: &Arc<Shared>,
    def: Arc<ResourceDef>,
    namespace: Option<&str>,
    q: &HashMap<String, String>,
    form: WatchForm,
) -> Result<Response, ApiError> {
    let mut filter = WatchFilter {
        namespace: namespace.map(str::to_owned),
        selectors: Selectors::from_query(q, &def)?,
        form,
        sent_columns: false,
    };
    let send_initial = flag(q, "sendInitialEvents");
    let since = match q.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(_) if send_initial => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        ),
    };
    let bookmarks = flag(q, "allowWatchBookmarks");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WATCH_TIMEOUT);
    let (subscription, start_rv) = {
        let mut st = shared.state();
        let sub = st.subscribe(&def.store_key(), namespace, since);
        (sub, st.rv)
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    }));
    let subscription = match subscription {
        Ok(s) => s,
        Err(e) => {
            // A watch that cannot start is a stream with one ERROR event, as kube-apiserver sends.
            let line = Bytes::from(format!(
                "{}\n",
                json!({"type": "ERROR", "object": e.status()})
            ));
            let _ = tx.try_send(line);
            return Ok(json_response(200, body));
        }
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut close = shared.close_watches.subscribe();
        for e in &subscription.backlog {
            if let Some(line) = filter.line(e) {
                if tx.send(line).await.is_err() {
                    return;
                }
            }
        }
        if send_initial
            && tx
                .send(bookmark(&filter.form, start_rv, true))
                .await
                .is_err()
        {
            return;
        }
        let mut rx = subscription.rx;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(shared.bookmark_interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                biased;
                _ = tx.closed() => break,
                _ = close.changed() => break,
                _ = &mut deadline => break,
                r = rx.recv() => match r {
                    Ok(e) => {
                        if let Some(line) = filter.line(&e) {
                            if tx.send(line).await.is_err() {
                                break;
                            }
                        }
                    }
                    // Lagging too far or the resource going away ends the watch; the client
                    // resumes from its last resourceVersion.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => break,
                },
                _ = ticker.tick(), if bookmarks => {
                    let rv = {
                        let st = shared.state();
                        rx.is_empty().then_some(st.rv)
                    };
                    if let Some(rv) = rv {
                        if tx.send(bookmark(&filter.form, rv, false)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    });
    Ok(json_response(200, body))
}

/// `object` (JSON) with `metadata.resourceVersion` set to `rv`.
fn at_resource_version(object: &[u8], rv: u64) -> Bytes {
    let mut value: serde_json::Value = serde_json::from_slice(object).unwrap_or_default();
    if let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        metadata.insert("resourceVersion".to_owned(), rv.to_string().into());
    }
    Bytes::from(serde_json::to_vec(&value).expect("JSON values serialise"))
}
