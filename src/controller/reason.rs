//! Why a token or an issuer is Ready or not: one list of the reasons of their `Ready`
//! conditions, from which the conditions, the Events of a transition, the logs and the book's
//! troubleshooting table all take their names, so that none can drift from the others.
//!
//! The table (the book's `docs/src/troubleshooting/reasons.md`) is generated from
//! [`Reason::ALL`]: a unit test fails when the page differs (`VIDEOSDK_WRITE_REASONS_DOC=1 cargo test --lib reason` rewrites it).

use std::fmt;

/// The reason of a `Ready` condition (`status.conditions[type=Ready].reason`), CamelCase as
/// Kubernetes API conventions ask for condition reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Token: the Secret holds a valid token for the current spec.
    Issued,
    /// Token: no issuer of that kind and name.
    IssuerNotFound,
    /// Token: the issuer's credentials are unusable or its policy malformed.
    IssuerNotReady,
    /// Token: the cluster issuer's namespaceSelector does not admit the token's namespace.
    NamespaceNotAllowed,
    /// Token: the spec asks for more than the issuer allows.
    PolicyViolation,
    /// Token: a spec that bypassed admission is invalid, or its renew window is shorter than
    /// the operator's `--min-renew-before`.
    InvalidSpec,
    /// Token: a Secret of that name exists and was not created for this token.
    SecretNotOwned,
    /// Token: the API server refused to write the Secret the spec asks for (a spec that
    /// bypassed admission); the message is the server's.
    SecretRejected,
    /// Issuer: key and secret present and well-formed.
    CredentialsValid,
    /// Issuer: the credentials Secret does not exist.
    SecretNotFound,
    /// Issuer: the credentials Secret lacks a key.
    KeyMissing,
    /// Issuer: a credential value is empty.
    ValueEmpty,
    /// Issuer: a credential value has whitespace around it.
    ValueHasWhitespace,
    /// Issuer: a credential value is not UTF-8 text.
    ValueNotUtf8,
    /// Issuer: `maxTtl` is not a Go duration.
    InvalidPolicy,
    /// Issuer: the namespaceSelector uses an unknown operator.
    InvalidNamespaceSelector,
    /// Cluster issuer (a Warning Event, not a condition this installation writes): another
    /// installation, with another cluster resource namespace, writes its status.
    ConflictingInstallation,
    /// Token (`Reconciling` only): a request to the Kubernetes API failed; retried with backoff.
    ApiError,
}

/// What a [`Reason`] says about the reconcile, as kstatus and Flux read it (kstatus: cli-utils
/// `pkg/kstatus/status/generic.go`, `checkGenericProperties`; Flux: fluxcd/pkg `apis/meta`
/// `ReconcilingCondition`, `StalledCondition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Done: `Ready=True`, no other condition (kstatus: Current).
    Ready,
    /// Work for the current generation is pending and the operator goes on by itself (it waits
    /// for an object a watch brings, or retries): `Reconciling=True` beside `Ready`
    /// (kstatus: InProgress).
    Reconciling,
    /// Only a person can fix it: `Stalled=True` beside `Ready=False` (kstatus: Failed, so that a
    /// Flux health check fails at once with the reason instead of at its timeout).
    Stalled,
}

impl Class {
    /// The condition type written beside `Ready` for this class, if any.
    pub fn condition_type(self) -> Option<&'static str> {
        match self {
            Class::Ready => None,
            Class::Reconciling => Some(crate::rules::status::RECONCILING),
            Class::Stalled => Some(crate::rules::status::STALLED),
        }
    }

    /// What kstatus computes for an object whose status is current with this class.
    pub fn kstatus(self) -> &'static str {
        match self {
            Class::Ready => "Current",
            Class::Reconciling => "InProgress",
            Class::Stalled => "Failed",
        }
    }
}

/// The kind of object a [`Reason`] is given on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// A `VideoSdkToken`.
    Token,
    /// A `VideoSdkIssuer` or `ClusterVideoSdkIssuer`.
    Issuer,
}

impl Reason {
    /// Every reason, in the troubleshooting table's order.
    pub const ALL: [Reason; 18] = [
        Reason::Issued,
        Reason::IssuerNotFound,
        Reason::IssuerNotReady,
        Reason::NamespaceNotAllowed,
        Reason::PolicyViolation,
        Reason::InvalidSpec,
        Reason::SecretNotOwned,
        Reason::SecretRejected,
        Reason::CredentialsValid,
        Reason::SecretNotFound,
        Reason::KeyMissing,
        Reason::ValueEmpty,
        Reason::ValueHasWhitespace,
        Reason::ValueNotUtf8,
        Reason::InvalidPolicy,
        Reason::InvalidNamespaceSelector,
        Reason::ConflictingInstallation,
        Reason::ApiError,
    ];

    /// The reason as it appears in the condition and the Event.
    pub fn as_str(self) -> &'static str {
        self.row().0
    }

    /// Whether the object is Ready with this reason.
    pub fn ready(self) -> bool {
        matches!(self, Reason::Issued | Reason::CredentialsValid)
    }

    /// The kind of object it is given on.
    pub fn on(self) -> On {
        self.row().1
    }

    /// The class of the reason, the one place that decides `Reconciling` and `Stalled`:
    /// - waiting for another object the operator watches, which the same `kubectl apply` or
    ///   GitOps sync may bring a moment later (the issuer, the credentials Secret that External
    ///   Secrets or Sealed Secrets create), or an API error it retries: Reconciling;
    /// - everything a person must change (a spec, a policy, a foreign Secret, a credential
    ///   value, namespace labels): Stalled.
    ///
    /// `IssuerNotReady` is Reconciling on the token: the issuer itself reads Failed with the
    /// reason a person must fix, and the token follows once it is fixed.
    pub fn class(self) -> Class {
        match self {
            Reason::Issued | Reason::CredentialsValid => Class::Ready,
            Reason::IssuerNotFound
            | Reason::IssuerNotReady
            | Reason::SecretNotFound
            | Reason::ApiError => Class::Reconciling,
            Reason::NamespaceNotAllowed
            | Reason::PolicyViolation
            | Reason::InvalidSpec
            | Reason::SecretNotOwned
            | Reason::SecretRejected
            | Reason::KeyMissing
            | Reason::ValueEmpty
            | Reason::ValueHasWhitespace
            | Reason::ValueNotUtf8
            | Reason::InvalidPolicy
            | Reason::InvalidNamespaceSelector
            | Reason::ConflictingInstallation => Class::Stalled,
        }
    }

    /// Whether the operator tries again by itself (with backoff) while the reason holds: a
    /// token's bad input can be fixed by something no watch of the operator's sees (a foreign
    /// Secret deleted, namespace labels changed); an issuer's only by a change a watch brings
    /// (the issuer or its credentials Secret), so it waits for that.
    pub fn retried(self) -> bool {
        !self.ready() && self.on() == On::Token
    }

    /// (name, object, what it means, what to do): the troubleshooting table's row.
    fn row(self) -> (&'static str, On, &'static str, &'static str) {
        match self {
            Reason::Issued => (
                "Issued",
                On::Token,
                "the Secret holds a valid token for the current spec",
                "—",
            ),
            Reason::IssuerNotFound => (
                "IssuerNotFound",
                On::Token,
                "no issuer of that kind and name (a `VideoSdkIssuer` must be in the token's namespace)",
                "create it or fix `spec.issuerRef`",
            ),
            Reason::IssuerNotReady => (
                "IssuerNotReady",
                On::Token,
                "the issuer's credentials are unusable or its policy malformed; the message names the issuer's own reason",
                "see the issuer's reasons below",
            ),
            Reason::NamespaceNotAllowed => (
                "NamespaceNotAllowed",
                On::Token,
                "the cluster issuer's `namespaceSelector` does not admit this namespace",
                "label the namespace or use another issuer",
            ),
            Reason::PolicyViolation => (
                "PolicyViolation",
                On::Token,
                "`ttl` above the issuer's `maxTtl` or the operator's `--max-ttl`, or a permission/role outside the allowed sets",
                "ask for less, or widen the issuer's policy (or `--max-ttl`)",
            ),
            Reason::InvalidSpec => (
                "InvalidSpec",
                On::Token,
                "a spec that bypassed admission (e.g. an older CRD) is invalid, or its renew window is shorter than the operator's `--min-renew-before` (the token in the Secret is kept until it expires)",
                "fix the field the message names (for a renew window: a longer `renewBefore` or `ttl`)",
            ),
            Reason::SecretNotOwned => (
                "SecretNotOwned",
                On::Token,
                "a Secret of that name exists and was not created for this token",
                "delete it, or set `spec.secretName`",
            ),
            Reason::SecretRejected => (
                "SecretRejected",
                On::Token,
                "the API server refused the Secret the spec asks for (e.g. a `secretTemplate` key a CRD older than this version admitted); the message is the server's, and the Secret keeps the token it had",
                "fix the field the message names",
            ),
            Reason::CredentialsValid => (
                "CredentialsValid",
                On::Issuer,
                "key and secret present and well-formed",
                "—",
            ),
            Reason::SecretNotFound => (
                "SecretNotFound",
                On::Issuer,
                "the credentials Secret does not exist (cluster issuers: in the cluster resource namespace)",
                "create it",
            ),
            Reason::KeyMissing => (
                "KeyMissing",
                On::Issuer,
                "the Secret lacks the `apiKey`/`secret` key (the message lists the keys present)",
                "add it or set `apiKeyKey`/`secretKey`",
            ),
            Reason::ValueEmpty => (
                "ValueEmpty",
                On::Issuer,
                "a value is empty",
                "store the value",
            ),
            Reason::ValueHasWhitespace => (
                "ValueHasWhitespace",
                On::Issuer,
                "leading/trailing whitespace, usually a newline from `echo` — VideoSDK would reject every token",
                "store it with `echo -n` or `printf`",
            ),
            Reason::ValueNotUtf8 => (
                "ValueNotUtf8",
                On::Issuer,
                "a value is not text",
                "store the value as shown by VideoSDK",
            ),
            Reason::InvalidPolicy => (
                "InvalidPolicy",
                On::Issuer,
                "`maxTtl` is not a Go duration",
                "fix it",
            ),
            Reason::InvalidNamespaceSelector => (
                "InvalidNamespaceSelector",
                On::Issuer,
                "an unknown selector operator",
                "use In, NotIn, Exists, DoesNotExist",
            ),
            Reason::ConflictingInstallation => (
                "ConflictingInstallation",
                On::Issuer,
                "a Warning Event on a cluster issuer: another installation of the operator (its cluster resource namespace named in `status.clusterResourceNamespace` and the message) writes its status, so this one leaves the status alone instead of rewriting it in turn",
                "keep cluster issuers to one installation; to hand one over, remove its status (`kubectl patch cvsi NAME --subresource=status --type=json -p '[{\"op\":\"remove\",\"path\":\"/status\"}]'`)",
            ),
            Reason::ApiError => (
                "ApiError",
                On::Token,
                "`Reconciling` only (`Ready` keeps its last answer about the Secret's token): a request to the Kubernetes API failed; the message gives the answer's HTTP status and reason, or says the API server could not be reached or did not answer within the request's deadline (30 s) or the attempt's (a tenth of the token's remaining lifetime, at least 2 s) (the operator's log names the request)",
                "none if it passes; else check the API server and the operator's RBAC",
            ),
        }
    }

    /// The book's troubleshooting table (docs/src/troubleshooting/reasons.md), one row per reason.
    pub fn troubleshooting_table() -> String {
        let mut out = String::from(
            "| reason | on | kstatus | retried | what it means | what to do |\n|---|---|---|---|---|---|\n",
        );
        for reason in Reason::ALL {
            let (name, on, meaning, action) = reason.row();
            let name = if reason.ready() {
                format!("`{name}` (True)")
            } else {
                format!("`{name}`")
            };
            let on = match on {
                On::Token => "token",
                On::Issuer => "issuer",
            };
            let retried = if reason.ready() {
                "—"
            } else if reason.retried() {
                "with backoff, and at once on a change"
            } else {
                "on a change"
            };
            let class = reason.class();
            let kstatus = match class.condition_type() {
                // An Event only: the status is the other installation's.
                _ if reason == Reason::ConflictingInstallation => "—".to_owned(),
                Some(condition) => format!("{} (`{condition}`)", class.kstatus()),
                None => class.kstatus().to_owned(),
            };
            out.push_str(&format!(
                "| {name} | {on} | {kstatus} | {retried} | {meaning} | {action} |\n"
            ));
        }
        out
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- reasons table: generated from src/controller/reason.rs -->\n";
    const END: &str = "<!-- end of reasons table -->";

    #[test]
    fn names_are_distinct_camel_case_and_all_lists_each_once() {
        let names: std::collections::BTreeSet<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len());
        for name in names {
            assert!(
                name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && name.chars().all(|c| c.is_ascii_alphanumeric()),
                "{name}"
            );
        }
        assert!(Reason::IssuerNotFound.retried());
        assert!(!Reason::KeyMissing.retried());
        assert!(!Reason::Issued.retried());
    }

    /// Every reason has a class, and exactly the ready ones are Ready; the bad input the issue
    /// names (a spec, a policy, a foreign Secret, a missing key) reads Failed.
    #[test]
    fn every_reason_is_classified_and_bad_input_stalls() {
        for reason in Reason::ALL {
            assert_eq!(reason.class() == Class::Ready, reason.ready(), "{reason}");
        }
        for stalled in [
            Reason::InvalidSpec,
            Reason::PolicyViolation,
            Reason::SecretNotOwned,
            Reason::KeyMissing,
            Reason::NamespaceNotAllowed,
        ] {
            assert_eq!(stalled.class(), Class::Stalled, "{stalled}");
        }
        for reconciling in [
            Reason::IssuerNotFound,
            Reason::ApiError,
            Reason::SecretNotFound,
        ] {
            assert_eq!(reconciling.class(), Class::Reconciling, "{reconciling}");
        }
    }

    /// The book's troubleshooting table is this module's, word for word.
    #[test]
    fn the_book_table_is_generated_from_the_reasons() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/src/troubleshooting/reasons.md"
        );
        let readme = std::fs::read_to_string(path).expect("docs/src/troubleshooting/reasons.md");
        let start = readme
            .find(BEGIN)
            .expect("the troubleshooting page marks the reasons table")
            + BEGIN.len();
        let end = readme[start..].find(END).expect("the table's end marker") + start;
        let table = Reason::troubleshooting_table();
        if std::env::var_os("VIDEOSDK_WRITE_REASONS_DOC").is_some() {
            let new = format!("{}{table}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, new).expect("the troubleshooting page written");
            return;
        }
        assert_eq!(
            &readme[start..end],
            table,
            "the troubleshooting page's reasons table differs; regenerate it with VIDEOSDK_WRITE_REASONS_DOC=1 cargo test --lib reason"
        );
    }
}
