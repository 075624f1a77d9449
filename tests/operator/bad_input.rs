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
    assert_eq!(env.events("healthy", "Issued").await.len(), 1);
    env.cleanup().await;
}
