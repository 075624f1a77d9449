//! The token request endpoint's metrics, in the operator's `/metrics` next to the controller's:
//! `videosdk_token_requests_total{code, issuer_kind, issuer_name}`,
//! `videosdk_token_request_duration_seconds` (a histogram) and
//! `videosdk_token_request_review_cache_total{review, result}` (TokenReview and
//! SubjectAccessReview answers served from the cache, `hit`, or asked of the API server, `miss`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    code: u16,
    issuer_kind: String,
    issuer_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    review: &'static str,
    result: &'static str,
}

/// The endpoint's counters and histogram, and the registry they are in.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Histogram,
    cache: Family<CacheLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("videosdk");
        let requests = Family::<RequestLabels, Counter>::default();
        // 100 µs to about 1.6 s.
        let duration = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "token_requests",
            "Token requests answered, by HTTP status code and issuer (empty unless the issuer exists)",
            requests.clone(),
        );
        registry.register(
            "token_request_duration_seconds",
            "How long token requests take to answer",
            duration.clone(),
        );
        registry.register(
            "token_request_review_cache",
            "TokenReview and SubjectAccessReview answers taken from the cache (hit) or asked of the API server (miss)",
            cache.clone(),
        );
        for review in ["tokenreview", "subjectaccessreview"] {
            for result in ["hit", "miss"] {
                let _ = cache.get_or_create(&CacheLabels { review, result });
            }
        }
        Metrics {
            registry,
            requests,
            duration,
            cache,
        }
    }
}

impl Metrics {
    /// The registry, for the `/metrics` endpoint.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts an answer and its latency.
    pub(crate) fn observe(&self, code: u16, issuer_kind: &str, issuer_name: &str, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                code,
                issuer_kind: issuer_kind.to_owned(),
                issuer_name: issuer_name.to_owned(),
            })
            .inc();
        self.duration.observe(took.as_secs_f64());
    }

    pub(super) fn cache_hit(&self, review: &'static str) {
        self.cache
            .get_or_create(&CacheLabels {
                review,
                result: "hit",
            })
            .inc();
    }

    pub(super) fn cache_miss(&self, review: &'static str) {
        self.cache
            .get_or_create(&CacheLabels {
                review,
                result: "miss",
            })
            .inc();
    }

    /// How many answers of `review` (`tokenreview`, `subjectaccessreview`) were asked of the
    /// API server: the cost the cache saves.
    pub fn reviews_asked(&self, review: &'static str) -> u64 {
        self.cache
            .get_or_create(&CacheLabels {
                review,
                result: "miss",
            })
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_are_in_the_operators_metrics_before_the_one_eof() {
        let metrics = Metrics::default();
        metrics.observe(200, "VideoSdkIssuer", "videosdk", Duration::from_millis(2));
        metrics.observe(403, "", "", Duration::from_millis(1));
        metrics.cache_miss("tokenreview");
        metrics.cache_hit("tokenreview");
        metrics.cache_hit("tokenreview");
        let text = crate::controller::Metrics::default().encode_with(&[metrics.registry()]);
        for series in [
            r#"videosdk_token_requests_total{code="200",issuer_kind="VideoSdkIssuer",issuer_name="videosdk"} 1"#,
            r#"videosdk_token_requests_total{code="403",issuer_kind="",issuer_name=""} 1"#,
            r#"videosdk_token_request_review_cache_total{review="tokenreview",result="hit"} 2"#,
            r#"videosdk_token_request_review_cache_total{review="subjectaccessreview",result="miss"} 0"#,
            "videosdk_token_request_duration_seconds_count 2",
            "videosdk_token_reconciles_total 0",
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
        assert_eq!(text.matches("# EOF").count(), 1);
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(metrics.reviews_asked("tokenreview"), 1);
    }
}
