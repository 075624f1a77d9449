//! Who a request acts as: kube-apiserver's `user.Info`, and how ServiceAccounts are named as
//! users (k8s.io/apiserver `pkg/authentication/serviceaccount/util.go`). Authentication
//! (`authn`), impersonation and authorization (`authz`) all speak of it; it depends on none of
//! them.

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Who makes a request or is asked about: kube-apiserver's `user.Info` (the `userInfo` of a
/// TokenReview or SelfSubjectReview).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UserInfo {
    pub(crate) username: String,
    pub(crate) uid: String,
    pub(crate) groups: Vec<String>,
    /// `Impersonate-Extra-*` values, by key.
    pub(crate) extra: BTreeMap<String, Vec<String>>,
}

/// The group of every authenticated user.
pub(crate) const AUTHENTICATED: &str = "system:authenticated";

impl UserInfo {
    /// The requester of a request without credentials: an administrator (the kubeconfig this
    /// server writes has none), named as kubeadm names its admin, in `system:masters`.
    pub(crate) fn admin() -> UserInfo {
        UserInfo {
            username: "kubernetes-admin".to_owned(),
            groups: vec!["system:masters".to_owned(), AUTHENTICATED.to_owned()],
            ..UserInfo::default()
        }
    }

    /// ServiceAccount `namespace/name`: user `system:serviceaccount:NS:NAME` in the groups
    /// `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`, as
    /// kube-apiserver names it (k8s.io/apiserver/pkg/authentication/serviceaccount/util.go).
    pub(crate) fn service_account(namespace: &str, name: &str) -> UserInfo {
        UserInfo {
            username: format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"),
            groups: [
                service_account_groups(namespace).as_slice(),
                &[AUTHENTICATED.to_owned()],
            ]
            .concat(),
            ..UserInfo::default()
        }
    }

    /// The `userInfo` object (`uid` and `extra` only when set).
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({"username": self.username, "groups": self.groups});
        if !self.uid.is_empty() {
            v["uid"] = json!(self.uid);
        }
        if !self.extra.is_empty() {
            v["extra"] = json!(self.extra);
        }
        v
    }
}

/// The answer to a SelfSubjectReview `review` (what `kubectl auth whoami` asks) made by
/// `user`: the review with `status.userInfo`.
pub(crate) fn self_review(user: &UserInfo, mut review: Value) -> Value {
    review["status"] = json!({"userInfo": user.to_json()});
    review
}

/// How a ServiceAccount's username starts.
pub(crate) const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// The groups of the ServiceAccounts of `namespace` (without `system:authenticated`).
pub(crate) fn service_account_groups(namespace: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{namespace}"),
    ]
}

/// The namespace and name of a ServiceAccount username `system:serviceaccount:NS:NAME`.
pub(crate) fn split_service_account(username: &str) -> Option<(&str, &str)> {
    let (namespace, name) = username
        .strip_prefix(SERVICE_ACCOUNT_PREFIX)?
        .split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_usernames_split_into_namespace_and_name() {
        assert_eq!(
            split_service_account("system:serviceaccount:my-app:backend"),
            Some(("my-app", "backend"))
        );
        assert_eq!(split_service_account("system:serviceaccount:my-app"), None);
        assert_eq!(split_service_account("system:serviceaccount::b"), None);
        assert_eq!(split_service_account("system:serviceaccount:a:b:c"), None);
        assert_eq!(split_service_account("alice"), None);
    }
}
