//! (9) Every kind of bad input gives Ready=False with its own reason and an Event, and does not
//! disturb a healthy token beside it.

use super::objects;
use super::*;

const SECRET: &str = "e2e-secret-bad-input-0123456789abcdef";

#[tokio::test]
async fn each_bad_input_has_its_own_reason_and_spares_healthy_tokens() {
    let Some(env) = Env::start("bad-input").await else {
        return;
    };
    let ns = env.namespace().to_owned();
    env.credentials("creds", SECRET).await;
    env.issuer("good", "creds", json!({})).await;
    env.token(
        "healthy",
        json!({"issuerRef": {"name": "good"}, "permissions": ["allow_join"]}),
    )
    .await;
    let healthy = env.wait_ready("healthy").await.status.unwrap().token_id;

    // Issuers that are not ready, and one with a policy.
    env.issuer("no-secret", "does-not-exist", json!({})).await;
    env.apply(objects::secret(
        "no-key",
        json!({"stringData": {"secret": SECRET}}),
    ))
    .await;
    env.issuer("no-key", "no-key", json!({})).await;
    env.apply(objects::secret(
        "newline",
        json!({"stringData": {"apiKey": API_KEY, "secret": format!("{SECRET}\n")}}),
    ))
    .await;
    env.issuer("newline", "newline", json!({})).await;
    env.issuer(
        "strict",
        "creds",
        json!({"maxTtl": "1h", "allowedPermissions": ["ask_join"], "allowedRoles": ["rtc"]}),
    )
    .await;
    // A cluster issuer whose selector does not admit this namespace (its credentials live in the
    // cluster resource namespace, which is this test's namespace).
    let cluster_issuer = format!("e2e-{ns}");
    let selector = json!({"namespaceSelector": {"matchLabels": {"videosdk": "allowed"}}});
    env.apply(objects::cluster_issuer(
        &cluster_issuer,
        objects::merged(objects::issuer_spec("creds"), selector),
    ))
    .await;

    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "missing-issuer",
            json!({"name": "nope"}),
            "IssuerNotFound",
            "VideoSdkIssuer",
        ),
        (
            "secret-missing",
            json!({"name": "no-secret"}),
            "IssuerNotReady",
            "SecretNotFound",
        ),
        (
            "key-missing",
            json!({"name": "no-key"}),
            "IssuerNotReady",
            "has no key \"apiKey\"",
        ),
        (
            "trailing-newline",
            json!({"name": "newline"}),
            "IssuerNotReady",
            "trailing newline",
        ),
        (
            "ttl-too-long",
            json!({"name": "strict"}),
            "PolicyViolation",
            "exceeds the maxTtl",
        ),
        (
            "missing-cluster-issuer",
            json!({"name": "nope", "kind": "ClusterVideoSdkIssuer"}),
            "IssuerNotFound",
            "ClusterVideoSdkIssuer nope",
        ),
        (
            "namespace-refused",
            json!({"name": cluster_issuer, "kind": "ClusterVideoSdkIssuer"}),
            "NamespaceNotAllowed",
            "does not admit namespace",
        ),
    ];
    for (name, issuer_ref, _, _) in &cases {
        env.token(
            name,
            json!({"issuerRef": issuer_ref, "permissions": ["allow_join"], "ttl": "2h"}),
        )
        .await;
    }
    // A permission the strict issuer does not allow, with a ttl it does.
    env.token(
        "permission-refused",
        json!({"issuerRef": {"name": "strict"}, "permissions": ["allow_mod"], "ttl": "30m"}),
    )
    .await;

    let expectations = cases
        .iter()
        .map(|(name, _, reason, fragment)| (*name, *reason, *fragment))
        .chain([(
            "permission-refused",
            "PolicyViolation",
            "permission allow_mod",
        )]);
    for (name, reason, fragment) in expectations {
        let token = env.wait_not_ready(name, reason).await;
        let status = token.status.unwrap();
        let message = &status.conditions[0].message;
        assert!(
            message.contains(fragment),
            "{name}: {message:?} should mention {fragment:?}"
        );
        assert!(
            !message.contains(SECRET),
            "{name}: the message leaks the secret"
        );
        assert!(
            status.failed_issuance_attempts.unwrap_or(0) >= 1 && status.last_failure_time.is_some(),
            "{name}: failures counted"
        );
        assert!(
            env.secrets().get_opt(name).await.unwrap().is_none(),
            "{name}: no Secret written"
        );
        let event = env.wait_event(name, reason).await;
        assert_eq!(event.type_.as_deref(), Some("Warning"));
    }
    // The issuers say what is wrong with them too.
    let issuers: Api<videosdk_token_operator::api::VideoSdkIssuer> =
        Api::namespaced(env.t.client.clone(), &ns);
    for (issuer, reason) in [
        ("no-secret", "SecretNotFound"),
        ("no-key", "KeyMissing"),
        ("newline", "ValueHasWhitespace"),
        ("good", "CredentialsValid"),
    ] {
        let found = tokio::time::timeout(
            WAIT,
            await_condition(
                issuers.clone(),
                issuer,
                move |i: Option<&videosdk_token_operator::api::VideoSdkIssuer>| {
                    i.and_then(|i| i.status.as_ref())
                        .is_some_and(|s| s.conditions.iter().any(|c| c.reason == reason))
                },
            ),
        )
        .await;
        assert!(found.is_ok(), "issuer {issuer} should say {reason}");
    }
    // Fixing the input heals the token: the missing credentials Secret appears.
    env.credentials("does-not-exist", SECRET).await;
    env.wait_ready("secret-missing").await;

    // The healthy token was never re-signed.
    let now = env.wait_ready("healthy").await.status.unwrap().token_id;
    assert_eq!(now, healthy);
    env.wait_events("healthy", "Issued", 1).await;
    env.cleanup().await;
}

/// The VideoSdkToken CRD without the rules on `spec.secretTemplate`, as an older CRD has it:
/// how a spec that bypassed admission reaches the operator.
pub fn crd_without_secret_template_rules()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    let (_, crd) = videosdk_token_operator::api::crds()
        .into_iter()
        .find(|(file, _)| *file == "videosdktokens.yaml")
        .expect("the VideoSdkToken CRD");
    let mut crd = serde_json::to_value(crd).unwrap();
    let template = crd
        .pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/secretTemplate/properties")
        .and_then(Value::as_object_mut)
        .expect("spec.secretTemplate in the CRD");
    for map in template.values_mut().filter_map(Value::as_object_mut) {
        map.remove("x-kubernetes-validations");
        map.remove("maxProperties");
    }
    serde_json::from_value(crd).unwrap()
}

/// (§6 of issue 20) A `secretTemplate` that bypassed admission (an older CRD): a key the API
/// server refuses on the Secret gives Ready=False `SecretRejected` with the server's message
/// and a Warning Event, and the Secret keeps the token it held; keys under the operator's
/// prefix are left out of the Secret, so a forged `renew-now-handled` answers no renew-now.
#[tokio::test]
async fn a_template_that_bypassed_admission_is_answered_and_cannot_forge_the_operators_keys() {
    if skipped_on_a_real_cluster(
        "replaces the cluster-wide VideoSdkToken CRD with one without the secretTemplate rules",
    ) {
        return;
    }
    let Some(env) = Env::start_on(TestCluster::in_memory("bypass").await).await else {
        return;
    };
    env.t
        .apply_crds(&[crd_without_secret_template_rules()])
        .await;
    env.credentials("creds", SECRET).await;
    env.issuer("good", "creds", json!({})).await;
    let spec = |template: Value| json!({"issuerRef": {"name": "good"}, "permissions": ["allow_join"], "secretTemplate": template});

    // Refused by the API server: the answer is on the token, in the server's words.
    env.token("rejected", spec(json!({"labels": {"tier": "web"}})))
        .await;
    let issued = env.wait_ready("rejected").await.status.unwrap();
    let jwt = env.jwt("rejected").await;
    env.token("rejected", spec(json!({"labels": {"bad key!": "x"}})))
        .await;
    let refused = env
        .wait_not_ready("rejected", "SecretRejected")
        .await
        .status
        .unwrap();
    let message = &refused.conditions[0].message;
    assert!(
        message.starts_with("the API server refused to write Secret rejected: ")
            && message.contains("metadata.labels: Invalid value: \"bad key!\""),
        "{message}"
    );
    for client_text in ["ApiError", "ErrorResponse", "Status {", "reason:"] {
        assert!(!message.contains(client_text), "client text: {message}");
    }
    let event = env.wait_event("rejected", "SecretRejected").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(env.jwt("rejected").await, jwt, "the Secret keeps its token");
    assert_eq!(refused.token_id, issued.token_id);
    assert_eq!(refused.not_after, issued.not_after);
    // Fixed: Ready again, with the same token.
    env.token("rejected", spec(json!({"labels": {"tier": "api"}})))
        .await;
    assert_eq!(
        env.wait_ready("rejected").await.status.unwrap().token_id,
        issued.token_id
    );

    // The operator's own keys: left out, and said so.
    env.token(
        "forged",
        spec(
            json!({"annotations": {"videosdk.live/renew-now-handled": "forged", "note": "kept"},
                    "labels": {"app.kubernetes.io/managed-by": "helm"}}),
        ),
    )
    .await;
    let ready = env.wait_ready("forged").await.status.unwrap();
    assert!(
        ready.conditions[0].message.contains(
            "left out of it: secretTemplate labels[app.kubernetes.io/managed-by], annotations[videosdk.live/renew-now-handled]"
        ),
        "{}",
        ready.conditions[0].message
    );
    let event = env.wait_event("forged", "OperatorKeysIgnored").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    let secret = env.secrets().get("forged").await.unwrap();
    let annotations = secret.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get("note").map(String::as_str), Some("kept"));
    assert!(!annotations.contains_key("videosdk.live/renew-now-handled"));
    assert_eq!(
        secret.metadata.labels.unwrap_or_default()["app.kubernetes.io/managed-by"],
        "videosdk-token-operator"
    );
    // renew-now with the forged value is answered: a new token.
    env.annotate_token("forged", "videosdk.live/renew-now", "forged")
        .await;
    let renewed = env
        .wait_token("forged", "re-signed", |t| {
            t.status.as_ref().is_some_and(|s| {
                s.renew_now_handled.as_deref() == Some("forged") && s.token_id != ready.token_id
            })
        })
        .await;
    assert_ne!(renewed.status.unwrap().token_id, ready.token_id);
    env.cleanup().await;
}
