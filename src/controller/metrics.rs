//! The operator's metrics, served at `/metrics` in OpenMetrics format and readable in-process
//! (tests, benchmarks).
//!
//! Per token, as cert-manager exposes per certificate: expiry and renewal timestamps and
//! readiness. Their label sets are (namespace, name) and are removed when the token is deleted,
//! so cardinality is bounded by the number of tokens. Counters are labelled by a reason from a
//! fixed set.

use super::decision::ResignReason;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Identifies a token in per-token series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadyLabels {
    namespace: String,
    name: String,
    condition: ConditionStatus,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum ConditionStatus {
    True,
    False,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// Everything the operator counts.
pub struct Metrics {
    registry: Registry,
    expiration: Family<TokenLabels, Gauge<f64, AtomicU64>>,
    renewal: Family<TokenLabels, Gauge<f64, AtomicU64>>,
    ready: Family<ReadyLabels, Gauge>,
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
            expiration: Family::default(),
            renewal: Family::default(),
            ready: Family::default(),
            issuances: Family::default(),
            errors: Family::default(),
            reconciles: Counter::default(),
            // 1 ms to about 16 s.
            duration: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            synced: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "token_expiration_timestamp_seconds",
            "When the token in the Secret expires (Unix seconds)",
            metrics.expiration.clone(),
        );
        registry.register(
            "token_renewal_timestamp_seconds",
            "When the operator will re-sign the token (Unix seconds)",
            metrics.renewal.clone(),
        );
        registry.register(
            "token_ready_status",
            "1 for the token's current Ready condition status (True or False), 0 for the other",
            metrics.ready.clone(),
        );
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

    /// Records a token's readiness and, when known, its expiry and renewal times.
    pub(super) fn set_token(&self, token: &TokenLabels, ready: bool, times: Option<(u64, u64)>) {
        for (condition, value) in [
            (ConditionStatus::True, ready),
            (ConditionStatus::False, !ready),
        ] {
            let labels = ReadyLabels {
                namespace: token.namespace.clone(),
                name: token.name.clone(),
                condition,
            };
            self.ready.get_or_create(&labels).set(i64::from(value));
        }
        if let Some((expires, renews)) = times {
            self.expiration.get_or_create(token).set(expires as f64);
            self.renewal.get_or_create(token).set(renews as f64);
        }
    }

    /// Drops a deleted token's series.
    pub(super) fn forget_token(&self, token: &TokenLabels) {
        self.expiration.remove(token);
        self.renewal.remove(token);
        for condition in [ConditionStatus::True, ConditionStatus::False] {
            self.ready.remove(&ReadyLabels {
                namespace: token.namespace.clone(),
                name: token.name.clone(),
                condition,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> TokenLabels {
        TokenLabels {
            namespace: "ns".into(),
            name: "t".into(),
        }
    }

    #[test]
    fn encodes_openmetrics_with_per_token_series() {
        let m = Metrics::default();
        m.set_token(&labels(), true, Some((1_800_000_000, 1_799_990_000)));
        m.count_issuance(ResignReason::Missing);
        m.observe_reconcile(Duration::from_millis(3));
        let text = m.encode();
        assert!(text.contains("videosdk_token_expiration_timestamp_seconds{namespace=\"ns\",name=\"t\"} 1800000000.0"), "{text}");
        assert!(
            text.contains(
                "videosdk_token_ready_status{namespace=\"ns\",name=\"t\",condition=\"True\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "videosdk_token_ready_status{namespace=\"ns\",name=\"t\",condition=\"False\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains("videosdk_token_issuances_total{reason=\"SecretMissing\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("videosdk_token_issuances_total{reason=\"RenewalDue\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("videosdk_token_reconcile_duration_seconds_count 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        assert_eq!((m.total_issuances(), m.token_reconciles()), (1, 1));
    }

    #[test]
    fn a_deleted_token_leaves_no_series() {
        let m = Metrics::default();
        m.set_token(&labels(), false, Some((1, 1)));
        m.forget_token(&labels());
        assert!(!m.encode().contains("name=\"t\""));
    }
}
