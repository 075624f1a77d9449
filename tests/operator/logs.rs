//! (11) Across the flows of this test binary, the operator's logs contain neither an API secret
//! nor any token.

use super::*;
use videosdk_token_operator::api::VideoSdkIssuer;

const SECRET: &str = "e2e-secret-logs-0123456789abcdef";

/// Runs issuance, a failing issuer, credential rotation and renew-now itself (tests run in any
/// order), then checks everything captured so far, including other tests' logs.
#[tokio::test]
async fn logs_never_contain_a_secret_or_a_token() {
    let Some(env) = Env::start("logs").await else {
        return;
    };
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    env.issuer("broken", "missing", json!({})).await;
    env.token(
        "t",
        json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}),
    )
    .await;
    env.token(
        "u",
        json!({"issuerRef": {"name": "broken"}, "permissions": ["allow_join"]}),
    )
    .await;
    let first = env.wait_ready("t").await.status.unwrap().token_id.unwrap();
    env.wait_not_ready("u", "IssuerNotReady").await;
    env.credentials("creds", "e2e-secret-logs-rotated-0000000000")
        .await;
    let rotated = env
        .wait_token("t", "re-signed", move |t| {
            t.status
                .as_ref()
                .and_then(|s| s.token_id.as_ref())
                .is_some_and(|id| *id != first)
        })
        .await;
    let jwt = env.jwt("t").await;
    env.annotate_token("t", "videosdk.live/renew-now", "1")
        .await;
    let second = rotated.status.unwrap().token_id.unwrap();
    env.wait_token("t", "renewed", move |t| {
        t.status
            .as_ref()
            .and_then(|s| s.token_id.as_ref())
            .is_some_and(|id| *id != second)
    })
    .await;

    let logs = captured_logs();
    assert!(logs.contains("Issued token"), "the capture works: {logs}");
    assert!(!logs.contains(SECRET_PREFIX), "an API secret was logged");
    assert!(!logs.contains(&jwt), "a token was logged");
    // Every JWT starts with the base64url of `{"`; none may appear.
    assert!(!logs.contains("eyJ"), "something JWT-shaped was logged");
    env.cleanup().await;
}

/// An issuer's problem, which a person must fix, is logged at WARN, as a token's is; its
/// recovery at INFO.
#[tokio::test]
async fn an_issuers_problem_is_a_warning_and_its_recovery_is_info() {
    let Some(env) = Env::start("issuer-log-level").await else {
        return;
    };
    env.issuer("videosdk", "creds", json!({})).await;
    wait_issuer_reason(&env, "SecretNotFound").await;
    env.credentials("creds", SECRET).await;
    wait_issuer_reason(&env, "CredentialsValid").await;
    let issuer = format!("issuer={}/videosdk", env.namespace());
    let level_of = |logs: &str, reason: &str| -> Vec<String> {
        logs.lines()
            .filter(|l| l.contains(&issuer) && l.contains(&format!("reason=\"{reason}\"")))
            .map(|l| l.split_whitespace().nth(1).unwrap_or_default().to_owned())
            .collect()
    };
    // The line is written once the status write has returned, which can be after a watch has
    // shown the status (as on a real API server): wait for it.
    let deadline = std::time::Instant::now() + WAIT;
    let mut logs = captured_logs();
    while level_of(&logs, "CredentialsValid").is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        logs = captured_logs();
    }
    assert_eq!(level_of(&logs, "SecretNotFound"), ["WARN"], "{logs}");
    assert_eq!(level_of(&logs, "CredentialsValid"), ["INFO"], "{logs}");
    env.cleanup().await;
}

/// Waits until issuer `videosdk`'s Ready reason is `reason`.
async fn wait_issuer_reason(env: &Env, reason: &'static str) {
    let api: Api<VideoSdkIssuer> = Api::namespaced(env.t.client.clone(), env.namespace());
    tokio::time::timeout(
        WAIT,
        await_condition(api, "videosdk", move |i: Option<&VideoSdkIssuer>| {
            i.and_then(|i| i.status.as_ref()).is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.reason == reason)
            })
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("issuer videosdk did not get reason {reason} in time"))
    .expect("watching the issuer");
}
