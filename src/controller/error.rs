//! Errors that end a reconcile early and are retried with backoff: the API server failed, or
//! signing failed. Bad input is no error here: it becomes a `Ready=False` condition
//! ([`super::problem::Problem`]) and waits for a person.

/// A reconcile failure that is retried.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the Kubernetes API failed.
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// Signing failed (clock before 1970, no randomness).
    #[error("signing failed: {0}")]
    Sign(#[from] crate::token::SignError),
    /// The cached token's spec or status does not parse as this operator's `VideoSdkToken`
    /// (a CRD of another version of the operator).
    #[error("the token does not parse as a VideoSdkToken of this operator's version: {0}")]
    Decode(#[from] serde_json::Error),
    /// The token's Secret changed again between the read and the write that followed it
    /// (someone else keeps writing it).
    #[error("the token's Secret changed again while it was being written")]
    SecretChanging,
    /// The attempt outlasted its deadline (`rules::backoff::attempt_deadline`): a request got no
    /// answer in time.
    #[error(
        "the Kubernetes API did not answer within {0:?}, a tenth of the token's remaining lifetime"
    )]
    AttemptTimedOut(std::time::Duration),
}

impl Error {
    /// Every value of [`Error::metric_label`], so that each error series exists (at zero) from
    /// the start.
    pub const METRIC_LABELS: [&'static str; 5] = [
        "conflict",
        "api_error",
        "api_unreachable",
        "sign_error",
        "decode_error",
    ];

    /// A short label for metrics and logs: one of [`Error::METRIC_LABELS`].
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(status)) if status.is_conflict() => "conflict",
            Error::SecretChanging => "conflict",
            Error::Kube(kube::Error::Api(_)) => "api_error",
            Error::Kube(_) | Error::AttemptTimedOut(_) => "api_unreachable",
            Error::Sign(_) => "sign_error",
            Error::Decode(_) => "decode_error",
        }
    }
}
