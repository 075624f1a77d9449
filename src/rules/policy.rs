//! An issuer's policy: which tokens it signs (maxTtl, allowedPermissions, allowedRoles) and, for
//! a cluster issuer, which namespaces may use it (namespaceSelector).

use crate::api::{IssuerPolicy, Permission, Role};
use crate::token::{self, DurationError, TokenRequest, show_duration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;
use std::time::Duration;

/// Why an issuer's policy is itself malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `spec.maxTtl` is not a positive Go duration.
    #[error("spec.maxTtl: {0}")]
    MaxTtl(#[source] DurationError),
}

/// Checks that the issuer's policy is well-formed (the issuer's reconcile reports it too).
pub fn check_policy(policy: &IssuerPolicy) -> Result<(), PolicyError> {
    if let Some(max_ttl) = &policy.max_ttl {
        token::parse_positive(max_ttl).map_err(PolicyError::MaxTtl)?;
    }
    Ok(())
}

/// How a token request breaks its issuer's policy. Messages name the field, the limit and the
/// issuer (`issuer`: how to name it to a person, e.g. `VideoSdkIssuer ns/name`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The ttl is above the operator-wide ceiling (`run --max-ttl`), which the issuer's `maxTtl`
    /// does not lower.
    #[error(
        "spec.ttl {ttl} exceeds the operator's maximum ttl of {max} (its flag --max-ttl): ask for at most {max}"
    )]
    TtlAboveOperatorMax {
        /// The asked ttl, in Go's notation.
        ttl: String,
        /// The operator's ceiling, in Go's notation.
        max: String,
    },
    /// The ttl is above `maxTtl`.
    #[error("spec.ttl {ttl} exceeds the maxTtl {max} of issuer {issuer}: ask for at most {max}")]
    TtlAboveMax {
        /// The asked ttl, in Go's notation.
        ttl: String,
        /// The issuer's maxTtl, in Go's notation.
        max: String,
        /// The issuer.
        issuer: String,
    },
    /// A permission is outside `allowedPermissions`.
    #[error(
        "permission {permission} is not in the allowedPermissions of issuer {issuer} ({allowed})"
    )]
    PermissionNotAllowed {
        /// The permission asked for.
        permission: Permission,
        /// The allowed ones, comma-separated (`none` when empty).
        allowed: String,
        /// The issuer.
        issuer: String,
    },
    /// A role is outside `allowedRoles`.
    #[error("role {role} is not in the allowedRoles of issuer {issuer} ({allowed})")]
    RoleNotAllowed {
        /// The role asked for.
        role: Role,
        /// The allowed ones, comma-separated (`none` when empty).
        allowed: String,
        /// The issuer.
        issuer: String,
    },
}

/// Why `request` breaks the policy of issuer `issuer` or the operator's ceiling `max_ttl`
/// (`run --max-ttl`), if it does. The issuer's `maxTtl` can only lower the ceiling: the
/// message names whichever of the two is the lower. A token that asks for more than is allowed
/// is refused, never silently cut down: a shorter or weaker token than the manifest says would
/// surprise whoever reads the manifest.
pub fn violation(
    request: &TokenRequest,
    policy: &IssuerPolicy,
    issuer: &str,
    max_ttl: Duration,
) -> Option<Violation> {
    let issuer_max = policy
        .max_ttl
        .as_deref()
        .and_then(|m| token::parse_positive(m).ok());
    match issuer_max {
        Some(max) if max <= max_ttl && request.ttl > max => {
            return Some(Violation::TtlAboveMax {
                ttl: show_duration(request.ttl),
                max: show_duration(max),
                issuer: issuer.to_owned(),
            });
        }
        _ if request.ttl > max_ttl => {
            return Some(Violation::TtlAboveOperatorMax {
                ttl: show_duration(request.ttl),
                max: show_duration(max_ttl),
            });
        }
        _ => {}
    }
    if let Some(allowed) = &policy.allowed_permissions
        && let Some(p) = request.permissions.iter().find(|p| !allowed.contains(p))
    {
        return Some(Violation::PermissionNotAllowed {
            permission: *p,
            allowed: list(allowed),
            issuer: issuer.to_owned(),
        });
    }
    if let Some(allowed) = &policy.allowed_roles
        && let Some(r) = request.roles.iter().find(|r| !allowed.contains(r))
    {
        return Some(Violation::RoleNotAllowed {
            role: *r,
            allowed: list(allowed),
            issuer: issuer.to_owned(),
        });
    }
    None
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a label selector cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A matchExpressions operator Kubernetes does not define.
    #[error("operator {0:?} is not one of In, NotIn, Exists, DoesNotExist")]
    UnknownOperator(String),
}

/// Whether a namespace with `labels` matches `selector` (Kubernetes label selector semantics:
/// all of matchLabels and matchExpressions must hold; an unset or empty selector matches all).
/// An operator other than In, NotIn, Exists, DoesNotExist is an error naming it.
pub fn selector_matches(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> Result<bool, SelectorError> {
    let Some(selector) = selector else {
        return Ok(true);
    };
    for (key, value) in selector.match_labels.iter().flatten() {
        if labels.get(key) != Some(value) {
            return Ok(false);
        }
    }
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.as_deref().unwrap_or_default();
        let have = labels.get(&expr.key);
        let holds = match expr.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            other => return Err(SelectorError::UnknownOperator(other.to_owned())),
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Permission, Role};
    use crate::token::DEFAULT_MAX_TTL;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn request() -> TokenRequest {
        TokenRequest {
            permissions: vec![Permission::AllowJoin, Permission::AllowMod],
            roles: vec![Role::Rtc],
            room_id: None,
            participant_id: None,
            ttl: Duration::from_secs(48 * 3600),
        }
    }

    #[test]
    fn an_open_policy_allows_everything() {
        assert_eq!(
            violation(&request(), &IssuerPolicy::default(), "i", DEFAULT_MAX_TTL),
            None
        );
    }

    #[test]
    fn each_limit_refuses_with_a_specific_message() {
        let max = IssuerPolicy {
            max_ttl: Some("24h".into()),
            ..Default::default()
        };
        assert_eq!(
            violation(&request(), &max, "videosdk", DEFAULT_MAX_TTL)
                .unwrap()
                .to_string(),
            "spec.ttl 48h0m0s exceeds the maxTtl 24h0m0s of issuer videosdk: ask for at most 24h0m0s"
        );
        let perms = IssuerPolicy {
            allowed_permissions: Some(vec![Permission::AllowJoin]),
            ..Default::default()
        };
        assert!(
            violation(&request(), &perms, "i", DEFAULT_MAX_TTL)
                .unwrap()
                .to_string()
                .contains(
                    "permission allow_mod is not in the allowedPermissions of issuer i (allow_join)"
                )
        );
        let roles = IssuerPolicy {
            allowed_roles: Some(vec![Role::Crawler]),
            ..Default::default()
        };
        assert!(
            violation(&request(), &roles, "i", DEFAULT_MAX_TTL)
                .unwrap()
                .to_string()
                .contains("role rtc")
        );
        let fits = IssuerPolicy {
            max_ttl: Some("48h".into()),
            allowed_permissions: Some(Permission::ALL.to_vec()),
            allowed_roles: Some(vec![Role::Rtc]),
        };
        assert_eq!(violation(&request(), &fits, "i", DEFAULT_MAX_TTL), None);
    }

    /// The operator's ceiling binds tokens of every issuer; an issuer's maxTtl can lower it,
    /// never raise it, and the message names whichever limit is the lower.
    #[test]
    fn the_operators_ceiling_binds_and_an_issuer_can_only_lower_it() {
        let ceiling = Duration::from_secs(24 * 3600);
        let open = IssuerPolicy::default();
        assert_eq!(
            violation(&request(), &open, "i", ceiling)
                .unwrap()
                .to_string(),
            "spec.ttl 48h0m0s exceeds the operator's maximum ttl of 24h0m0s (its flag --max-ttl): ask for at most 24h0m0s"
        );
        let higher = IssuerPolicy {
            max_ttl: Some("72h".into()),
            ..Default::default()
        };
        assert!(matches!(
            violation(&request(), &higher, "i", ceiling),
            Some(Violation::TtlAboveOperatorMax { .. })
        ));
        let lower = IssuerPolicy {
            max_ttl: Some("12h".into()),
            ..Default::default()
        };
        assert!(matches!(
            violation(&request(), &lower, "i", ceiling),
            Some(Violation::TtlAboveMax { .. })
        ));
        // At the ceiling exactly: allowed.
        assert_eq!(violation(&request(), &open, "i", 2 * ceiling), None);
    }

    #[test]
    fn a_malformed_max_ttl_is_reported() {
        let bad = IssuerPolicy {
            max_ttl: Some("1d".into()),
            ..Default::default()
        };
        assert!(
            check_policy(&bad)
                .unwrap_err()
                .to_string()
                .starts_with("spec.maxTtl: ")
        );
    }

    #[test]
    fn namespace_selectors_follow_kubernetes_semantics() {
        let labels = BTreeMap::from([("team".to_owned(), "media".to_owned())]);
        let expr = |operator: &str, values: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "team".into(),
                operator: operator.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..Default::default()
        };
        assert_eq!(selector_matches(None, &labels), Ok(true));
        assert_eq!(
            selector_matches(Some(&LabelSelector::default()), &labels),
            Ok(true)
        );
        let by_label = LabelSelector {
            match_labels: Some(BTreeMap::from([("team".into(), "web".into())])),
            ..Default::default()
        };
        assert_eq!(selector_matches(Some(&by_label), &labels), Ok(false));
        assert_eq!(
            selector_matches(Some(&expr("In", &["media", "web"])), &labels),
            Ok(true)
        );
        assert_eq!(
            selector_matches(Some(&expr("NotIn", &["media"])), &labels),
            Ok(false)
        );
        assert_eq!(
            selector_matches(Some(&expr("Exists", &[])), &labels),
            Ok(true)
        );
        assert_eq!(
            selector_matches(Some(&expr("DoesNotExist", &[])), &labels),
            Ok(false)
        );
        assert!(selector_matches(Some(&expr("Gt", &["1"])), &labels).is_err());
    }
}
