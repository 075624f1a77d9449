//! User impersonation: a request's `Impersonate-User`, `Impersonate-Group` (repeated),
//! `Impersonate-Uid` and `Impersonate-Extra-KEY` headers (what kubectl's `--as`, `--as-group`,
//! `--as-uid` and `--as-user-extra` send) make it act as that user, as kube-apiserver's filter
//! does (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go; documented in
//! <https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation>):
//!
//! - the requester needs the RBAC verb `impersonate` on each thing it asks for: `users` (by
//!   name), `serviceaccounts` in the namespace (for a user `system:serviceaccount:NS:NAME`),
//!   `groups`, and in `authentication.k8s.io` `uids` and `userextras/KEY`; a refusal is a 403
//!   naming the first one denied;
//! - a ServiceAccount user gets the groups `system:serviceaccounts` and
//!   `system:serviceaccounts:NS` unless groups are given; every user but `system:anonymous` then
//!   gets `system:authenticated` unless `system:authenticated` or `system:unauthenticated` is
//!   among them (`system:anonymous` gets `system:unauthenticated`);
//! - groups, a uid or extras without a user are refused with a 500, as kube-apiserver does.
//!
//! The administrator (a request without credentials) may impersonate anyone; a ServiceAccount
//! token's user only what RBAC grants it.

use super::authz::{self, Attributes};
use super::error::ApiError;
use super::identity::{self, AUTHENTICATED, UserInfo};
use super::store::State;
use axum::http::HeaderMap;
use std::collections::BTreeMap;

/// How every impersonation header's (lower-case) name starts.
pub(crate) const HEADER_PREFIX: &str = "impersonate-";
const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const UID: &str = "impersonate-uid";
const EXTRA_PREFIX: &str = "impersonate-extra-";
const UNAUTHENTICATED: &str = "system:unauthenticated";
const ANONYMOUS: &str = "system:anonymous";

/// The user `requester`'s request acts as: `requester` itself without impersonation headers,
/// else the impersonated user once RBAC allows `requester` each part of it.
///
/// Errors: 403 naming the first part `requester` may not impersonate; 500 for groups, a uid or
/// extras without `Impersonate-User`; 400 for a header value that is not text.
pub(crate) fn impersonate(
    state: &State,
    requester: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, ApiError> {
    let text = |value: &axum::http::HeaderValue| {
        value.to_str().map(str::to_owned).map_err(|_| {
            ApiError::bad_request("an Impersonate-* header value is not visible ASCII text")
        })
    };
    let one = |name: &str| headers.get(name).map(text).transpose();
    let user = one(USER)?.filter(|u| !u.is_empty());
    let uid = one(UID)?.filter(|u| !u.is_empty());
    let groups = headers
        .get_all(GROUP)
        .iter()
        .map(text)
        .collect::<Result<Vec<_>, _>>()?;
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(EXTRA_PREFIX) {
            let key = percent_encoding::percent_decode_str(key)
                .decode_utf8_lossy()
                .to_lowercase();
            extra.entry(key).or_default().push(text(value)?);
        }
    }
    let Some(username) = user else {
        if groups.is_empty() && uid.is_none() && extra.is_empty() {
            return Ok(requester);
        }
        return Err(ApiError::internal(
            "requested impersonation of groups, a uid or extra values without impersonating a user (Impersonate-User)",
        ));
    };
    // What the requester must be allowed to impersonate, in kube-apiserver's order.
    let ask =
        |group: &str, resource: &str, subresource: &str, namespace: &str, name: &str| Attributes {
            user: requester.username.clone(),
            groups: requester.groups.clone(),
            namespace: namespace.to_owned(),
            verb: "impersonate".to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: name.to_owned(),
        };
    let service_account = identity::split_service_account(&username);
    let mut asked = vec![match service_account {
        Some((namespace, name)) => ask("", "serviceaccounts", "", namespace, name),
        None => ask("", "users", "", "", &username),
    }];
    asked.extend(groups.iter().map(|g| ask("", "groups", "", "", g)));
    for (key, values) in &extra {
        asked.extend(
            values
                .iter()
                .map(|v| ask("authentication.k8s.io", "userextras", key, "", v)),
        );
    }
    if let Some(uid) = &uid {
        asked.push(ask("authentication.k8s.io", "uids", "", "", uid));
    }
    if let Some(denied) = asked.iter().find(|a| authz::authorize(state, a).is_none()) {
        return Err(authz::forbidden(denied));
    }
    let mut impersonated_groups = match (service_account, groups.is_empty()) {
        (Some((namespace, _)), true) => identity::service_account_groups(namespace),
        _ => groups,
    };
    let (implied, unless) = if username == ANONYMOUS {
        (UNAUTHENTICATED, &[UNAUTHENTICATED][..])
    } else {
        (AUTHENTICATED, &[AUTHENTICATED, UNAUTHENTICATED][..])
    };
    if !impersonated_groups
        .iter()
        .any(|g| unless.contains(&g.as_str()))
    {
        impersonated_groups.push(implied.to_owned());
    }
    Ok(UserInfo {
        username,
        uid: uid.unwrap_or_default(),
        groups: impersonated_groups,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_service_account_gets_its_groups_and_authenticated() {
        let state = State::new(10);
        let user = impersonate(
            &state,
            UserInfo::admin(),
            &headers(&[("Impersonate-User", "system:serviceaccount:my-app:backend")]),
        )
        .unwrap();
        assert_eq!(user.username, "system:serviceaccount:my-app:backend");
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:my-app",
                "system:authenticated"
            ]
        );
    }

    #[test]
    fn given_groups_replace_the_service_account_groups() {
        let state = State::new(10);
        let user = impersonate(
            &state,
            UserInfo::admin(),
            &headers(&[
                ("Impersonate-User", "system:serviceaccount:my-app:backend"),
                ("Impersonate-Group", "devs"),
                ("Impersonate-Group", "ops"),
                ("Impersonate-Uid", "u-1"),
                ("Impersonate-Extra-Scopes%2Fa", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(user.groups, ["devs", "ops", "system:authenticated"]);
        assert_eq!(user.uid, "u-1");
        assert_eq!(user.extra["scopes/a"], ["x"]);
        let anonymous = impersonate(
            &state,
            UserInfo::admin(),
            &headers(&[("Impersonate-User", "system:anonymous")]),
        )
        .unwrap();
        assert_eq!(anonymous.groups, ["system:unauthenticated"]);
    }

    #[test]
    fn no_headers_leave_the_requester() {
        let state = State::new(10);
        let sa = UserInfo::service_account("a", "b");
        assert_eq!(
            impersonate(&state, sa.clone(), &HeaderMap::new()).unwrap(),
            sa
        );
    }

    #[test]
    fn a_requester_without_the_grant_is_refused_naming_what_it_asked() {
        let state = State::new(10);
        let err = impersonate(
            &state,
            UserInfo::service_account("a", "b"),
            &headers(&[("Impersonate-User", "alice")]),
        )
        .unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            r#"users "alice" is forbidden: User "system:serviceaccount:a:b" cannot impersonate resource "users" in API group "" at the cluster scope"#
        );
        let err = impersonate(
            &state,
            UserInfo::service_account("a", "b"),
            &headers(&[("Impersonate-User", "system:serviceaccount:x:y")]),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            r#"serviceaccounts "y" is forbidden: User "system:serviceaccount:a:b" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "x""#
        );
    }

    #[test]
    fn groups_without_a_user_are_refused() {
        let err = impersonate(
            &State::new(10),
            UserInfo::admin(),
            &headers(&[("Impersonate-Group", "devs")]),
        )
        .unwrap_err();
        assert_eq!(err.code, 500);
        assert!(err.message.contains("without impersonating a user"));
    }
}
