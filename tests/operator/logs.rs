//! (11) Across the flows of this test binary, the operator's logs contain neither an API secret
//! nor any token.

use super::*;

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
