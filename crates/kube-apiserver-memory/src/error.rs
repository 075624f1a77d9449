//! API errors, rendered as the `metav1.Status` objects kube-apiserver answers with, so that a
//! client (`kube::Error::Api`, kubectl) sees the same `code`, `reason` and message it would see
//! from a real cluster.

use serde_json::{Value, json};

/// One entry of `status.details.causes`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cause {
    pub(crate) reason: String,
    pub(crate) message: String,
    pub(crate) field: String,
}

/// A failed API request: HTTP code, `reason`, message and the optional `details`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
    /// Seconds for the `Retry-After` header (429 only).
    pub(crate) retry_after: Option<u64>,
}

/// What names an object in error messages: the plural resource, its group and kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    pub(crate) plural: &'a str,
    pub(crate) group: &'a str,
    pub(crate) kind: &'a str,
}

impl Subject<'_> {
    /// `secrets` or `videosdktokens.videosdk.live`, as kube-apiserver writes a resource.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Secret` or `VideoSdkToken.videosdk.live`, as kube-apiserver writes a kind in `Invalid`.
    fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    fn details(&self, name: &str) -> Value {
        let mut d = json!({"name": name, "kind": self.plural});
        if !self.group.is_empty() {
            d["group"] = json!(self.group);
        }
        d
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub(crate) fn not_found(s: Subject<'_>, name: &str) -> Self {
        ApiError {
            details: Some(s.details(name)),
            ..Self::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", s.qualified()),
            )
        }
    }

    pub(crate) fn already_exists(s: Subject<'_>, name: &str) -> Self {
        ApiError {
            details: Some(s.details(name)),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", s.qualified()),
            )
        }
    }

    /// 409 Conflict with kube-apiserver's wording; `why` is the part after the colon.
    pub(crate) fn conflict(s: Subject<'_>, name: &str, why: &str) -> Self {
        ApiError {
            details: Some(s.details(name)),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {why}",
                    s.qualified()
                ),
            )
        }
    }

    /// The optimistic-concurrency conflict of an update with a stale `resourceVersion`.
    pub(crate) fn stale(s: Subject<'_>, name: &str) -> Self {
        Self::conflict(
            s,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 of server-side apply: other managers own fields this apply changes. `conflicts`
    /// are (manager as kube-apiserver prints it, e.g. `"op"` or `"x" using v1 at …`, field path).
    pub(crate) fn apply_conflict(
        s: Subject<'_>,
        name: &str,
        conflicts: &[(String, String)],
    ) -> Self {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(manager, field)| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with {manager}"), "field": field})
            })
            .collect();
        let message = match conflicts {
            [(manager, field)] => {
                format!("Apply failed with 1 conflict: conflict with {manager}: {field}")
            }
            _ => {
                let mut by_manager: std::collections::BTreeMap<&str, Vec<&str>> =
                    Default::default();
                for (manager, field) in conflicts {
                    by_manager.entry(manager).or_default().push(field);
                }
                let mut lines = Vec::new();
                for (manager, fields) in by_manager {
                    lines.push(format!("conflicts with {manager}:"));
                    lines.extend(fields.iter().map(|f| format!("- {f}")));
                }
                format!(
                    "Apply failed with {} conflicts: {}",
                    conflicts.len(),
                    lines.join("\n")
                )
            }
        };
        let mut details = s.details(name);
        details["causes"] = json!(causes);
        ApiError {
            details: Some(details),
            ..Self::new(409, "Conflict", message)
        }
    }

    /// 422 Invalid, rendered as kube-apiserver renders a `field.ErrorList` (`apierrors.NewInvalid`
    /// through utilerrors' aggregate): one error plainly, several in brackets, a repeated
    /// message listed once.
    pub(crate) fn invalid(s: Subject<'_>, name: &str, causes: &[Cause]) -> Self {
        let mut rendered: Vec<String> = Vec::with_capacity(causes.len());
        for c in causes {
            let message = if c.field.is_empty() {
                c.message.clone()
            } else {
                format!("{}: {}", c.field, c.message)
            };
            if !rendered.contains(&message) {
                rendered.push(message);
            }
        }
        let list = if rendered.len() == 1 {
            rendered[0].clone()
        } else {
            format!("[{}]", rendered.join(", "))
        };
        let mut details = json!({"name": name, "kind": s.kind});
        if !s.group.is_empty() {
            details["group"] = json!(s.group);
        }
        details["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        ApiError {
            details: Some(details),
            ..Self::new(
                422,
                "Invalid",
                format!("{} \"{name}\" is invalid: {list}", s.qualified_kind()),
            )
        }
    }

    /// 422 Invalid with a single `field: Invalid value: …` cause.
    pub(crate) fn invalid_field(s: Subject<'_>, name: &str, field: &str, message: String) -> Self {
        Self::invalid(
            s,
            name,
            &[Cause {
                reason: "FieldValueInvalid".into(),
                message,
                field: field.into(),
            }],
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 401 of a request whose credentials do not authenticate it; kube-apiserver says no more.
    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub(crate) fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
            ),
        )
    }

    /// 415 for a create or update body in a media type this server does not read for the kind.
    pub(crate) fn unsupported_body(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// 406 for a document asked for only in media types this server does not produce;
    /// `produced` names those it does.
    pub(crate) fn not_acceptable(accept: &str, produced: &[&str]) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: {} (asked for {accept:?})",
                produced.join(", ")
            ),
        )
    }

    /// 404 for a path that names no served resource.
    pub(crate) fn no_route() -> Self {
        ApiError {
            details: Some(
                json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}),
            ),
            ..Self::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        }
    }

    /// 410 Gone of a watch or continue token older than the history kept.
    pub(crate) fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub(crate) fn too_many_requests(retry_after: u64) -> Self {
        ApiError {
            details: Some(json!({"retryAfterSeconds": retry_after})),
            retry_after: Some(retry_after),
            ..Self::new(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
            )
        }
    }

    /// An error kube-apiserver does not classify (a plain Go `error` reaching its response
    /// writer): `code`, an empty `reason`, the error's text as the message.
    pub(crate) fn unknown(code: u16, message: impl Into<String>) -> Self {
        Self::new(code, "", message)
    }

    /// A storage error kube-apiserver does not translate into a status: 500, no reason, the
    /// error's own text as the message (`ErrorToAPIStatus`).
    pub(crate) fn untranslated_storage(message: impl Into<String>) -> Self {
        Self::new(500, "", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// The `Status` object of this error.
    pub(crate) fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.reason.is_empty() {
            // `reason` is `omitempty` in kube-apiserver's Status.
            s.as_object_mut().expect("a map").remove("reason");
        }
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: Subject<'static> = Subject {
        plural: "videosdktokens",
        group: "videosdk.live",
        kind: "VideoSdkToken",
    };

    #[test]
    fn invalid_renders_one_cause_plainly_and_several_in_brackets() {
        let c = |f: &str| Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: f.into(),
        };
        let one = ApiError::invalid(TOKEN, "t", &[c("spec.ttl")]);
        assert_eq!(
            one.message,
            "VideoSdkToken.videosdk.live \"t\" is invalid: spec.ttl: Required value"
        );
        let two = ApiError::invalid(TOKEN, "t", &[c("spec.a"), c("spec.b")]);
        assert_eq!(
            two.message,
            "VideoSdkToken.videosdk.live \"t\" is invalid: [spec.a: Required value, spec.b: Required value]"
        );
        let repeated = ApiError::invalid(TOKEN, "t", &[c("spec.a"), c("spec.a"), c("spec.b")]);
        assert_eq!(
            repeated.message,
            "VideoSdkToken.videosdk.live \"t\" is invalid: [spec.a: Required value, spec.b: Required value]"
        );
        let once = ApiError::invalid(TOKEN, "t", &[c("spec.a"), c("spec.a")]);
        assert_eq!(
            once.message,
            "VideoSdkToken.videosdk.live \"t\" is invalid: spec.a: Required value"
        );
        let st = two.status();
        assert_eq!(st["code"], 422);
        assert_eq!(st["details"]["kind"], "VideoSdkToken");
        assert_eq!(st["details"]["causes"][1]["field"], "spec.b");
    }

    #[test]
    fn not_found_names_core_resources_without_group() {
        let s = Subject {
            plural: "secrets",
            group: "",
            kind: "Secret",
        };
        assert_eq!(
            ApiError::not_found(s, "x").message,
            "secrets \"x\" not found"
        );
        assert_eq!(
            ApiError::not_found(TOKEN, "x").message,
            "videosdktokens.videosdk.live \"x\" not found"
        );
    }
}
