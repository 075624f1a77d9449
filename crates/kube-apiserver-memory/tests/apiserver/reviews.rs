//! Requests made as a ServiceAccount: a bearer token from its TokenRequest authenticates them as
//! that ServiceAccount, whose SelfSubjectAccessReviews and SelfSubjectReviews answer for it, and
//! who may impersonate only what RBAC grants it (`impersonate`).

use crate::*;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{DeleteParams, PostParams};

fn obj<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("a valid object")
}

/// Posts `body` to `path` as the bearer `token` alone (no other credentials), with the `extra`
/// headers.
async fn post(
    t: &TestCluster,
    token: &str,
    extra: &[(&str, &str)],
    path: &str,
    body: Value,
) -> Result<Value, kube::Error> {
    let mut req = http::Request::post(path).header("content-type", "application/json");
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let req = req.body(serde_json::to_vec(&body).unwrap()).unwrap();
    t.client_with_bearer(token).request::<Value>(req).await
}

const SSAR: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
const WHOAMI: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

fn ssar(namespace: &str, verb: &str, resource: &str) -> Value {
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}}})
}

fn whoami() -> Value {
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
}

#[tokio::test]
async fn a_service_account_token_reviews_and_impersonates_as_that_account() {
    let t = TestCluster::new("sa-reviews").await;
    let ns = t.namespace.clone();
    let pp = PostParams::default();
    let sas: Api<ServiceAccount> = Api::namespaced(t.client.clone(), &ns);
    sas.create(&pp, &obj(json!({"metadata": {"name": "backend"}})))
        .await
        .unwrap();
    Api::<Role>::namespaced(t.client.clone(), &ns)
        .create(
            &pp,
            &obj(json!({"metadata": {"name": "read-config"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]})),
        )
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(t.client.clone(), &ns)
        .create(&pp, &obj(json!({"metadata": {"name": "backend-read-config"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-config"},
            "subjects": [{"kind": "ServiceAccount", "name": "backend"}]})))
        .await
        .unwrap();
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = sas
        .create_token_request("backend", &pp, &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let backend = format!("system:serviceaccount:{ns}:backend");

    // RBAC evaluates new bindings a moment later on a real cluster.
    wait_for("the RoleBinding to allow get configmaps", async {
        loop {
            let answer = post(&t, &token, &[], SSAR, ssar(&ns, "get", "configmaps"))
                .await
                .unwrap();
            if answer["status"]["allowed"] == true {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    let denied = post(&t, &token, &[], SSAR, ssar(&ns, "list", "secrets"))
        .await
        .unwrap();
    assert_eq!(denied["status"]["allowed"], false, "{denied}");
    let me = post(&t, &token, &[], WHOAMI, whoami()).await.unwrap();
    assert_eq!(me["status"]["userInfo"]["username"], backend.as_str());
    let groups = me["status"]["userInfo"]["groups"].as_array().unwrap();
    for group in [
        "system:serviceaccounts",
        &format!("system:serviceaccounts:{ns}"),
        "system:authenticated",
    ] {
        assert!(groups.iter().any(|g| g == group), "{group} in {me}");
    }

    // Impersonating needs `impersonate`, which the ServiceAccount does not have yet.
    let alice = format!("{ns}-alice");
    let as_alice = [("Impersonate-User", alice.as_str())];
    let e = api_error(post(&t, &token, &as_alice, WHOAMI, whoami()).await);
    assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden"));
    assert!(
        e.message.starts_with(&format!(
            r#"users "{alice}" is forbidden: User "{backend}" cannot impersonate resource "users" in API group "" at the cluster scope"#
        )),
        "{}",
        e.message
    );
    let impersonator = format!("{ns}-impersonator");
    Api::<ClusterRole>::all(t.client.clone())
        .create(&pp, &obj(json!({"metadata": {"name": impersonator},
            "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": [alice]}]})))
        .await
        .unwrap();
    Api::<ClusterRoleBinding>::all(t.client.clone())
        .create(&pp, &obj(json!({"metadata": {"name": impersonator},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": impersonator},
            "subjects": [{"kind": "ServiceAccount", "name": "backend", "namespace": ns}]})))
        .await
        .unwrap();
    let me = wait_for(
        "the ClusterRoleBinding to allow impersonating alice",
        async {
            loop {
                if let Ok(me) = post(&t, &token, &as_alice, WHOAMI, whoami()).await {
                    break me;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        },
    )
    .await;
    assert_eq!(
        me["status"]["userInfo"],
        json!({"username": alice, "groups": ["system:authenticated"]})
    );
    // Alice has no grant of her own: the review answers for her, not the ServiceAccount.
    let as_alice_review = post(&t, &token, &as_alice, SSAR, ssar(&ns, "get", "configmaps"))
        .await
        .unwrap();
    assert_eq!(as_alice_review["status"]["allowed"], false);
    // Only alice: another user, or a group, is still refused.
    let e = api_error(post(&t, &token, &[("Impersonate-User", "bob")], WHOAMI, whoami()).await);
    assert_eq!(e.code, 403, "{}", e.message);
    let e = api_error(
        post(
            &t,
            &token,
            &[
                ("Impersonate-User", &alice),
                ("Impersonate-Group", "admins"),
            ],
            WHOAMI,
            whoami(),
        )
        .await,
    );
    assert!(
        e.message.starts_with(r#"groups "admins" is forbidden"#),
        "{}",
        e.message
    );

    // A token the server did not issue does not authenticate.
    let e = api_error(post(&t, "not-a-token", &[], WHOAMI, whoami()).await);
    assert_eq!((e.code, e.reason.as_str()), (401, "Unauthorized"));

    let dp = DeleteParams::default();
    Api::<ClusterRoleBinding>::all(t.client.clone())
        .delete(&impersonator, &dp)
        .await
        .unwrap();
    Api::<ClusterRole>::all(t.client.clone())
        .delete(&impersonator, &dp)
        .await
        .unwrap();
    t.cleanup().await;
}
