//! The operator's metrics, served at `/metrics` in OpenMetrics format and readable in-process
//! (tests, benchmarks).
//!
//! Per token, as cert-manager exposes per certificate: expiry and renewal timestamps and
//! readiness, labelled (namespace, name). They are read at each scrape from the token cache's
//! statuses ([`TokenSeries`]) rather than kept as series of their own: nothing per token is held
//! twice (at 10,000 tokens, labelled gauges cost 5 MiB), a deleted token's series go with it,
//! and the figures are by construction what `kubectl get vst` shows. Counters are labelled by a
//! reason from a fixed set.

use super::decision::ResignReason;
use super::status;
use crate::api::{VideoSdkToken, VideoSdkTokenStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The per-token series, encoded at each scrape from the cache of the running token controller
/// (none while no controller runs, e.g. on a standby replica).
#[derive(Clone, Default)]
struct TokenSeries(Arc<Mutex<Option<Store<VideoSdkToken>>>>);

impl std::fmt::Debug for TokenSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSeries").finish_non_exhaustive()
    }
}

/// A per-token time series: its name, help, and the status field it shows.
type TimeSeries = (
    &'static str,
    &'static str,
    fn(&VideoSdkTokenStatus) -> Option<&Time>,
);

/// A Kubernetes time as a gauge value in Unix seconds.
fn seconds(time: &Time) -> ConstGauge<f64> {
    ConstGauge::new(time.0.as_second() as f64)
}

impl Collector for TokenSeries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(store) = self.0.lock().expect("not poisoned").clone() else {
            return Ok(());
        };
        let tokens = store.state();
        let statuses = || {
            tokens.iter().filter_map(|t| {
                let labels = [
                    (
                        "namespace",
                        t.metadata.namespace.as_deref().unwrap_or_default(),
                    ),
                    ("name", t.metadata.name.as_deref().unwrap_or_default()),
                ];
                Some((labels, t.status.as_ref()?))
            })
        };
        let times: [TimeSeries; 2] = [
            (
                "token_expiration_timestamp_seconds",
                "When the token in the Secret expires (Unix seconds)",
                |s| s.not_after.as_ref(),
            ),
            (
                "token_renewal_timestamp_seconds",
                "When the operator will re-sign the token (Unix seconds)",
                |s| s.renewal_time.as_ref(),
            ),
        ];
        for (name, help, field) in times {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (labels, status) in statuses() {
                if let Some(time) = field(status) {
                    seconds(time).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "token_ready_status",
            "1 for the token's current Ready condition status (True or False), 0 for the other",
            None,
            MetricType::Gauge,
        )?;
        for (labels, status) in statuses() {
            let Some(ready) = status::ready_of(&status.conditions) else {
                continue;
            };
            let ready = ready.status == "True";
            for (condition, value) in [("True", ready), ("False", !ready)] {
                let [namespace, name] = labels;
                let labels = [namespace, name, ("condition", condition)];
                ConstGauge::new(i64::from(value)).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// Everything the operator counts.
pub struct Metrics {
    registry: Registry,
    tokens: TokenSeries,
    issuances: Family<ReasonLabels, Counter>,
    errors: Family<ReasonLabels, Counter>,
    reconciles: Counter,
    duration: Histogram,
    synced: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("videosdk");
        let metrics = Metrics {
            tokens: TokenSeries::default(),
            issuances: Family::default(),
            errors: Family::default(),
            reconciles: Counter::default(),
            // 1 ms to about 16 s.
            duration: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            synced: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register_collector(Box::new(metrics.tokens.clone()));
        registry.register(
            "token_issuances",
            "Tokens signed, by reason",
            metrics.issuances.clone(),
        );
        // Pre-create every reason so that rates start at zero rather than appearing later.
        for reason in ResignReason::ALL {
            let _ = metrics
                .issuances
                .get_or_create(&reason_labels(reason.as_str()));
        }
        registry.register(
            "reconcile_errors",
            "Token reconciles that failed with an API or signing error and were retried, by kind",
            metrics.errors.clone(),
        );
        registry.register(
            "token_reconciles",
            "Token reconciles run to the end",
            metrics.reconciles.clone(),
        );
        registry.register(
            "token_reconcile_duration_seconds",
            "How long token reconciles take",
            metrics.duration.clone(),
        );
        registry.register(
            "caches_synced",
            "1 once the leader's caches of tokens and issuers are synced",
            metrics.synced.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

fn reason_labels(reason: &str) -> ReasonLabels {
    ReasonLabels {
        reason: reason.to_owned(),
    }
}

impl Metrics {
    /// The metrics in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Token reconciles that ran to the end (ready or not), not counting API errors.
    pub fn token_reconciles(&self) -> u64 {
        self.reconciles.get()
    }

    /// Tokens signed for `reason`.
    pub fn issuances(&self, reason: ResignReason) -> u64 {
        self.issuances
            .get_or_create(&reason_labels(reason.as_str()))
            .get()
    }

    /// Tokens signed, for any reason.
    pub fn total_issuances(&self) -> u64 {
        ResignReason::ALL.iter().map(|r| self.issuances(*r)).sum()
    }

    /// Reconciles that ended in an API or signing error (and were retried).
    pub fn reconcile_errors(&self) -> u64 {
        ["conflict", "api_error", "api_unreachable", "sign_error"]
            .iter()
            .map(|r| self.errors.get_or_create(&reason_labels(r)).get())
            .sum()
    }

    /// Whether the caches of the running controllers are synced.
    pub fn caches_synced(&self) -> bool {
        self.synced.get() == 1
    }

    pub(super) fn set_caches_synced(&self, synced: bool) {
        self.synced.set(i64::from(synced));
    }

    pub(super) fn observe_reconcile(&self, took: Duration) {
        self.reconciles.inc();
        self.duration.observe(took.as_secs_f64());
    }

    pub(super) fn count_issuance(&self, reason: ResignReason) {
        self.issuances
            .get_or_create(&reason_labels(reason.as_str()))
            .inc();
    }

    pub(super) fn count_error(&self, kind: &str) {
        self.errors.get_or_create(&reason_labels(kind)).inc();
    }

    /// Reads the per-token series from `tokens` (the running token controller's cache), or
    /// from nothing when it stops.
    pub(super) fn read_tokens_from(&self, tokens: Option<Store<VideoSdkToken>>) {
        *self.tokens.0.lock().expect("not poisoned") = tokens;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    fn token(name: &str, ready: &str) -> VideoSdkToken {
        serde_json::from_value(json!({
            "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]},
            "status": {"notAfter": "2027-01-15T08:00:00Z", "renewalTime": "2027-01-15T05:13:20Z",
                       "conditions": [{"type": "Ready", "status": ready, "reason": "Issued", "message": "",
                                       "lastTransitionTime": "2026-11-28T00:00:00Z"}]},
        }))
        .expect("a token")
    }

    #[test]
    fn encodes_openmetrics_with_per_token_series_from_the_cache() {
        let m = Metrics::default();
        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&watcher::Event::Apply(token("t", "True")));
        writer.apply_watcher_event(&watcher::Event::Apply(token("u", "False")));
        m.read_tokens_from(Some(store));
        m.count_issuance(ResignReason::Missing);
        m.observe_reconcile(Duration::from_millis(3));
        let text = m.encode();
        for line in [
            "videosdk_token_expiration_timestamp_seconds{namespace=\"ns\",name=\"t\"} 1800000000.0",
            "videosdk_token_renewal_timestamp_seconds{namespace=\"ns\",name=\"t\"} 1799990000.0",
            "videosdk_token_ready_status{namespace=\"ns\",name=\"t\",condition=\"True\"} 1",
            "videosdk_token_ready_status{namespace=\"ns\",name=\"t\",condition=\"False\"} 0",
            "videosdk_token_ready_status{namespace=\"ns\",name=\"u\",condition=\"True\"} 0",
            "videosdk_token_ready_status{namespace=\"ns\",name=\"u\",condition=\"False\"} 1",
            "videosdk_token_issuances_total{reason=\"SecretMissing\"} 1",
            "videosdk_token_issuances_total{reason=\"RenewalDue\"} 0",
            "videosdk_token_reconcile_duration_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        assert_eq!(
            text.matches("# TYPE videosdk_token_ready_status gauge")
                .count(),
            1,
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        assert_eq!((m.total_issuances(), m.token_reconciles()), (1, 1));
    }

    #[test]
    fn deleted_tokens_and_a_stopped_controller_leave_no_series() {
        let m = Metrics::default();
        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&watcher::Event::Apply(token("t", "True")));
        m.read_tokens_from(Some(store.clone()));
        assert!(m.encode().contains("name=\"t\""));
        writer.apply_watcher_event(&watcher::Event::Delete(token("t", "True")));
        assert!(!m.encode().contains("name=\"t\""));
        writer.apply_watcher_event(&watcher::Event::Apply(token("t", "True")));
        m.read_tokens_from(None);
        assert!(!m.encode().contains("name=\"t\""));
    }
}
