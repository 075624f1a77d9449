//! The operator's metrics, served at `/metrics` in OpenMetrics format and readable in-process
//! (tests, benchmarks).
//!
//! Per token, as cert-manager exposes per certificate: expiry and renewal timestamps and
//! readiness, labelled (namespace, name, issuer_name, issuer_kind) as cert-manager labels its
//! certificate series with `issuer_name` and `issuer_kind`; per issuer and cluster issuer, its
//! readiness (as `certmanager_issuer_ready_status` and `certmanager_clusterissuer_ready_status`).
//! They are read at each scrape from the caches' statuses ([`CachedSeries`]; a cached token's
//! spec and status are parsed from their text, family by family, see
//! [`super::cached::CachedToken`]) rather than kept as series of their own: nothing per token is held twice (at 10,000 tokens, labelled gauges cost
//! 5 MiB), a deleted token's series go with it, and the figures are by construction what
//! `kubectl get vst` shows. Counters are labelled by a reason from a fixed set. Besides:
//! `build_info` (version and git commit) and the standard `process_*` metrics of Prometheus'
//! client libraries ([`ProcessSeries`]).

use super::cached::CachedToken;
use super::error::Error;
use crate::api::{ClusterVideoSdkIssuer, IssuerRef, VideoSdkIssuer, VideoSdkTokenStatus};
use crate::rules::decision::ResignReason;
use crate::rules::status;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The caches the per-object series are read from: those of the running controllers.
#[derive(Clone)]
pub(crate) struct Caches {
    /// The token controller's cache.
    pub(crate) tokens: Store<CachedToken>,
    /// The issuer controller's cache.
    pub(crate) issuers: Store<VideoSdkIssuer>,
    /// The cluster issuer controller's cache.
    pub(crate) cluster_issuers: Store<ClusterVideoSdkIssuer>,
}

/// The per-token and per-issuer series, encoded at each scrape from the caches of the running
/// controllers (none while no controller runs, e.g. on a standby replica).
#[derive(Clone, Default)]
struct CachedSeries(Arc<Mutex<Option<Caches>>>);

impl std::fmt::Debug for CachedSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSeries").finish_non_exhaustive()
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

/// The values of a `…_ready_status` gauge: the three statuses a condition can have, as
/// cert-manager exports them, with 1 for the Ready condition's status and 0 for the others. An
/// object without a Ready condition yet (not reconciled) is `Unknown`, as in cert-manager.
fn ready_statuses(conditions: &[Condition]) -> [(&'static str, i64); 3] {
    let current = status::ready_of(conditions).map_or("Unknown", |c| c.status.as_str());
    ["True", "False", "Unknown"].map(|condition| (condition, i64::from(condition == current)))
}

/// Encodes one `…_ready_status` family: `objects` yields each object's labels and conditions.
fn encode_ready<'a, const N: usize>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    objects: impl Iterator<Item = ([(&'static str, &'a str); N], &'a [Condition])>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, conditions) in objects {
        encode_ready_series(&mut family, labels, conditions)?;
    }
    Ok(())
}

/// Encodes one object's series of a `…_ready_status` family.
fn encode_ready_series<const N: usize>(
    family: &mut MetricEncoder<'_>,
    labels: [(&'static str, &str); N],
    conditions: &[Condition],
) -> Result<(), std::fmt::Error> {
    for (condition, value) in ready_statuses(conditions) {
        let labels = (labels, [("condition", condition)]);
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A token's labels, given its parsed `issuerRef`.
fn token_labels<'a>(token: &'a CachedToken, issuer: &'a IssuerRef) -> [(&'static str, &'a str); 4] {
    [
        (
            "namespace",
            token.metadata.namespace.as_deref().unwrap_or_default(),
        ),
        ("name", token.metadata.name.as_deref().unwrap_or_default()),
        ("issuer_name", issuer.name.as_str()),
        ("issuer_kind", issuer.kind.as_str()),
    ]
}

impl Collector for CachedSeries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(caches) = self.0.lock().expect("not poisoned").clone() else {
            return Ok(());
        };
        let tokens = caches.tokens.state();
        // Each token's issuerRef and status, parsed anew for each family rather than held for
        // the whole scrape; a token whose spec or status does not parse has no series (its
        // reconcile reports it).
        let parsed = || {
            tokens
                .iter()
                .filter_map(|t| Some((t, t.issuer_ref().ok()?, t.status().ok()?)))
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
            for (token, issuer, status) in parsed() {
                if let Some(time) = status.as_ref().and_then(field) {
                    seconds(time).encode(family.encode_family(&token_labels(token, &issuer))?)?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "token_ready_status",
            "1 for the token's current Ready condition status (True, False, or Unknown before its first reconcile), 0 for the others",
            None,
            MetricType::Gauge,
        )?;
        for (token, issuer, status) in parsed() {
            let conditions = status.as_ref().map_or(&[][..], |s| s.conditions.as_slice());
            encode_ready_series(&mut family, token_labels(token, &issuer), conditions)?;
        }
        let issuers = caches.issuers.state();
        encode_ready(
            &mut encoder,
            "issuer_ready_status",
            "1 for the VideoSdkIssuer's current Ready condition status (True, False, or Unknown), 0 for the others",
            issuers.iter().map(|i| {
                let labels = [
                    (
                        "namespace",
                        i.metadata.namespace.as_deref().unwrap_or_default(),
                    ),
                    ("name", i.metadata.name.as_deref().unwrap_or_default()),
                ];
                (
                    labels,
                    i.status
                        .as_ref()
                        .map_or(&[][..], |s| s.conditions.as_slice()),
                )
            }),
        )?;
        let cluster_issuers = caches.cluster_issuers.state();
        encode_ready(
            &mut encoder,
            "clusterissuer_ready_status",
            "1 for the ClusterVideoSdkIssuer's current Ready condition status (True, False, or Unknown), 0 for the others",
            cluster_issuers.iter().map(|i| {
                let labels = [("name", i.metadata.name.as_deref().unwrap_or_default())];
                (
                    labels,
                    i.status
                        .as_ref()
                        .map_or(&[][..], |s| s.conditions.as_slice()),
                )
            }),
        )?;
        Ok(())
    }
}

/// The standard process metrics of Prometheus' client libraries (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
/// `process_max_fds`, `process_start_time_seconds`, `process_threads`), read at each scrape by
/// the `metrics-process` crate (a port of client_golang's process collector: `/proc/self` on
/// Linux). A value the platform does not give is left out.
#[derive(Debug, Default)]
struct ProcessSeries;

impl Collector for ProcessSeries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = metrics_process::collector::collect();
        if let Some(cpu) = m.cpu_seconds_total {
            let metric = encoder.encode_descriptor(
                "process_cpu",
                "Total user and system CPU time spent in seconds",
                Some(&Unit::Seconds),
                MetricType::Counter,
            )?;
            ConstCounter::new(cpu).encode(metric)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                m.resident_memory_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                m.virtual_memory_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                m.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                m.max_fds,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds",
                m.start_time_seconds,
            ),
            (
                "process_threads",
                "Number of OS threads in the process",
                m.threads,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(metric)?;
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
    cached: CachedSeries,
    issuances: Family<ReasonLabels, Counter>,
    errors: Family<ReasonLabels, Counter>,
    reconciles: Counter,
    duration: Histogram,
    synced: Gauge,
    process: Registry,
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
            cached: CachedSeries::default(),
            issuances: Family::default(),
            errors: Family::default(),
            reconciles: Counter::default(),
            // 1 ms to about 16 s.
            duration: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            synced: Gauge::default(),
            registry: Registry::default(),
            process: Registry::default(),
        };
        registry.register_collector(Box::new(metrics.cached.clone()));
        registry.register(
            "build",
            "The operator's version and the git commit it was built from (1)",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("git_commit", env!("VIDEOSDK_GIT_COMMIT")),
            ]),
        );
        // Without the `videosdk_` prefix: the names every Prometheus client library uses.
        let mut unprefixed = Registry::default();
        unprefixed.register_collector(Box::new(ProcessSeries));
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
        for kind in Error::METRIC_LABELS {
            let _ = metrics.errors.get_or_create(&reason_labels(kind));
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
            process: unprefixed,
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
        self.encode_with(&[])
    }

    /// The metrics in OpenMetrics text format, followed by those of `others` (another part of
    /// the process, such as the token request endpoint), before the one `# EOF`.
    pub fn encode_with(&self, others: &[&Registry]) -> String {
        let mut out = String::new();
        std::iter::once(&self.registry)
            .chain(others.iter().copied())
            .chain(std::iter::once(&self.process))
            .try_for_each(|r| prometheus_client::encoding::text::encode_registry(&mut out, r))
            .and_then(|()| prometheus_client::encoding::text::encode_eof(&mut out))
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
        Error::METRIC_LABELS
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

    /// Reads the per-token and per-issuer series from `caches` (the running controllers'), or
    /// from nothing when they stop.
    pub(super) fn read_caches_from(&self, caches: Option<Caches>) {
        *self.cached.0.lock().expect("not poisoned") = caches;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    fn token(name: &str, ready: Option<&str>) -> CachedToken {
        let conditions = match ready {
            Some(status) => {
                json!([{"type": "Ready", "status": status, "reason": "Issued", "message": "",
                                    "lastTransitionTime": "2026-11-28T00:00:00Z"}])
            }
            None => json!([]),
        };
        serde_json::from_str(&json!({
            "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]},
            "status": {"notAfter": "2027-01-15T08:00:00Z", "renewalTime": "2027-01-15T05:13:20Z",
                       "conditions": conditions},
        }).to_string())
        .expect("a token")
    }

    fn issuer<K: serde::de::DeserializeOwned>(kind: &str, name: &str, ready: &str) -> K {
        serde_json::from_value(json!({
            "apiVersion": "videosdk.live/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"credentialsSecretRef": {"name": "creds"}},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "CredentialsValid",
                                       "message": "", "lastTransitionTime": "2026-11-28T00:00:00Z"}]},
        }))
        .expect("an issuer")
    }

    /// Caches holding `tokens`, a ready VideoSdkIssuer ns/videosdk and a not-ready
    /// ClusterVideoSdkIssuer shared; the writers keep them alive and change them.
    fn caches(
        tokens: &[CachedToken],
    ) -> (
        Caches,
        reflector::store::Writer<CachedToken>,
        reflector::store::Writer<VideoSdkIssuer>,
        reflector::store::Writer<ClusterVideoSdkIssuer>,
    ) {
        let (tokens_store, mut tw) = reflector::store();
        for t in tokens {
            tw.apply_watcher_event(&watcher::Event::Apply(t.clone()));
        }
        let (issuers, mut iw) = reflector::store();
        iw.apply_watcher_event(&watcher::Event::Apply(issuer(
            "VideoSdkIssuer",
            "videosdk",
            "True",
        )));
        let (cluster_issuers, mut cw) = reflector::store();
        let mut shared: ClusterVideoSdkIssuer = issuer("ClusterVideoSdkIssuer", "shared", "False");
        shared.metadata.namespace = None;
        cw.apply_watcher_event(&watcher::Event::Apply(shared));
        let caches = Caches {
            tokens: tokens_store,
            issuers,
            cluster_issuers,
        };
        (caches, tw, iw, cw)
    }

    #[test]
    fn encodes_openmetrics_with_per_token_series_from_the_cache() {
        let m = Metrics::default();
        let (caches, _tw, _iw, _cw) = caches(&[
            token("t", Some("True")),
            token("u", Some("False")),
            token("new", None),
        ]);
        m.read_caches_from(Some(caches));
        m.count_issuance(ResignReason::Missing);
        m.observe_reconcile(Duration::from_millis(3));
        let text = m.encode();
        let t = r#"namespace="ns",name="t",issuer_name="videosdk",issuer_kind="VideoSdkIssuer""#;
        let u = r#"namespace="ns",name="u",issuer_name="videosdk",issuer_kind="VideoSdkIssuer""#;
        let new =
            r#"namespace="ns",name="new",issuer_name="videosdk",issuer_kind="VideoSdkIssuer""#;
        for line in [
            format!("videosdk_token_expiration_timestamp_seconds{{{t}}} 1800000000.0"),
            format!("videosdk_token_renewal_timestamp_seconds{{{t}}} 1799990000.0"),
            format!("videosdk_token_ready_status{{{t},condition=\"True\"}} 1"),
            format!("videosdk_token_ready_status{{{t},condition=\"False\"}} 0"),
            format!("videosdk_token_ready_status{{{t},condition=\"Unknown\"}} 0"),
            format!("videosdk_token_ready_status{{{u},condition=\"True\"}} 0"),
            format!("videosdk_token_ready_status{{{u},condition=\"False\"}} 1"),
            format!("videosdk_token_ready_status{{{new},condition=\"Unknown\"}} 1"),
            format!("videosdk_token_ready_status{{{new},condition=\"True\"}} 0"),
            r#"videosdk_issuer_ready_status{namespace="ns",name="videosdk",condition="True"} 1"#
                .to_owned(),
            r#"videosdk_clusterissuer_ready_status{name="shared",condition="False"} 1"#.to_owned(),
            r#"videosdk_clusterissuer_ready_status{name="shared",condition="True"} 0"#.to_owned(),
            "videosdk_token_issuances_total{reason=\"SecretMissing\"} 1".to_owned(),
            "videosdk_token_issuances_total{reason=\"RenewalDue\"} 0".to_owned(),
            "videosdk_token_reconcile_duration_seconds_count 1".to_owned(),
            format!(
                "videosdk_build_info{{version=\"{}\",git_commit=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION"),
                env!("VIDEOSDK_GIT_COMMIT")
            ),
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
        assert_eq!(text.matches("# EOF").count(), 1);
        assert_eq!((m.total_issuances(), m.token_reconciles()), (1, 1));
    }

    #[test]
    fn process_metrics_are_those_of_this_process() {
        let text = Metrics::default().encode();
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {text}"))
        };
        assert!(
            text.contains("# TYPE process_cpu_seconds counter"),
            "{text}"
        );
        assert!(value("process_cpu_seconds_total") >= 0.0);
        // RSS within what /proc/self/status says now (it moves a little between the reads).
        let status = std::fs::read_to_string("/proc/self/status").expect("Linux");
        let vm_rss_kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        let rss = value("process_resident_memory_bytes");
        assert!(
            (rss / (vm_rss_kib * 1024.0) - 1.0).abs() < 0.5,
            "RSS {rss} against VmRSS {vm_rss_kib} KiB"
        );
        assert!(
            value("process_open_fds") >= 3.0,
            "stdin, stdout, stderr at least"
        );
        assert!(value("process_max_fds") >= value("process_open_fds"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = value("process_start_time_seconds");
        assert!(
            start <= now + 1.0 && start > now - 3600.0,
            "started {start}, now {now}"
        );
    }

    #[test]
    fn deleted_tokens_and_a_stopped_controller_leave_no_series() {
        let m = Metrics::default();
        let (caches, mut writer, _iw, _cw) = caches(&[token("t", Some("True"))]);
        m.read_caches_from(Some(caches));
        assert!(m.encode().contains("name=\"t\""));
        writer.apply_watcher_event(&watcher::Event::Delete(token("t", Some("True"))));
        assert!(!m.encode().contains("name=\"t\""));
        writer.apply_watcher_event(&watcher::Event::Apply(token("t", Some("True"))));
        m.read_caches_from(None);
        let text = m.encode();
        assert!(!text.contains("name=\"t\""));
        assert!(
            !text.contains("name=\"videosdk\""),
            "no issuer series either"
        );
    }

    /// Every `expr` in a JSON or YAML tree (Grafana panels' targets, Prometheus rules).
    fn expressions(tree: &serde_json::Value, out: &mut Vec<String>) {
        match tree {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match value.as_str() {
                        Some(expr) if key == "expr" => out.push(expr.to_owned()),
                        _ => expressions(value, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
            _ => {}
        }
    }

    /// The Grafana dashboard and the alerting rules query only metrics that `/metrics` (which
    /// serves [`Metrics::encode`]) has, with every label they select or group by.
    #[test]
    fn dashboard_and_alerts_query_only_metrics_that_exist() {
        let root = env!("CARGO_MANIFEST_DIR");
        let read = |path: &str| {
            std::fs::read_to_string(format!("{root}/{path}"))
                .unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        let dashboard: serde_json::Value =
            serde_json::from_str(&read("deploy/grafana/videosdk-token-operator.json"))
                .expect("the dashboard is JSON");
        let alerts: serde_json::Value = serde_yaml::from_str(&read(
            "deploy/helm/videosdk-token-operator/files/prometheus-alerts.yaml",
        ))
        .expect("the alerts are YAML");
        let mut exprs = Vec::new();
        expressions(&dashboard, &mut exprs);
        let in_dashboard = exprs.len();
        expressions(&alerts, &mut exprs);
        assert!(
            in_dashboard >= 10 && exprs.len() == in_dashboard + 2,
            "{exprs:?}"
        );

        let m = Metrics::default();
        let (caches, _tw, _iw, _cw) = caches(&[token("t", Some("True"))]);
        m.read_caches_from(Some(caches));
        m.observe_reconcile(Duration::from_millis(3));
        let text = m.encode();
        // Sample names with the labels each carries.
        let mut samples: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
            Default::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let labels = samples.entry(&line[..name_end]).or_default();
            if let Some(set) = line[name_end..].strip_prefix('{') {
                for pair in set.split("\",").filter(|p| p.contains('=')) {
                    labels.insert(pair.split('=').next().unwrap().trim_start_matches(','));
                }
            }
        }
        let metric = regex::Regex::new(r"\b(?:videosdk|process)_[a-z_]+\b").unwrap();
        let selector = regex::Regex::new(r"\b((?:videosdk|process)_[a-z_]+)\{([^}]*)\}").unwrap();
        let grouping = regex::Regex::new(r"\b(?:by|on) \(([a-z_, ]+)\)").unwrap();
        // Labels Prometheus adds at scrape time.
        let target_labels = ["job", "pod", "instance", "le"];
        let mut queried = std::collections::BTreeSet::new();
        for expr in &exprs {
            for name in metric.find_iter(expr) {
                assert!(
                    samples.contains_key(name.as_str()),
                    "`{expr}` queries {}, which /metrics does not have:\n{text}",
                    name.as_str()
                );
                queried.insert(name.as_str().to_owned());
            }
            for sel in selector.captures_iter(expr) {
                for matcher in sel[2].split(',').filter(|m| !m.trim().is_empty()) {
                    let label = matcher.split(['=', '!', '~']).next().unwrap().trim();
                    assert!(
                        target_labels.contains(&label) || samples[&sel[1]].contains(label),
                        "`{expr}` selects {} by {label}, a label it does not have",
                        &sel[1]
                    );
                }
            }
            for group in grouping.captures_iter(expr) {
                for label in group[1].split(',').map(str::trim) {
                    assert!(
                        target_labels.contains(&label)
                            || samples
                                .iter()
                                .any(|(n, labels)| expr.contains(n) && labels.contains(label)),
                        "`{expr}` groups by {label}, which none of its metrics has"
                    );
                }
            }
        }
        // The panels the dashboard must have, by what they query.
        for needed in [
            "videosdk_token_expiration_timestamp_seconds",
            "videosdk_token_issuances_total",
            "videosdk_reconcile_errors_total",
            "videosdk_token_reconcile_duration_seconds_bucket",
            "process_resident_memory_bytes",
        ] {
            assert!(
                queried.contains(needed),
                "the dashboard has no panel on {needed}"
            );
        }
    }
}
