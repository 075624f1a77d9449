//! (14) What issuing a token costs: its Secret is written once and never read (a Secret of
//! that name that is not the operator's is found by the write's precondition, see
//! `a_foreign_secret_is_never_touched`), its status written once, and it is reconciled once. Needs the in-memory API
//! server's request accounting, so it runs in memory only.

use super::*;
use kube_apiserver_memory::Verb;

const SECRET: &str = "e2e-secret-requests-0123456789abcdef";
const TOKENS: u64 = 20;

/// An in-memory environment (its API server counts requests) with issuer `videosdk` and its
/// credentials, and the spec of a token of that issuer; `None` on a real cluster (skipped).
async fn counting_env(test: &str) -> Option<(Env, Value)> {
    if skipped_on_a_real_cluster(
        "counting requests needs the in-memory API server's request accounting",
    ) {
        return None;
    }
    let env = Env::start(test).await?;
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    let spec = json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]});
    Some((env, spec))
}

#[tokio::test]
async fn an_issuance_reads_no_secret_writes_its_secret_and_status_once_and_reconciles_once() {
    let Some((env, spec)) = counting_env("requests").await else {
        return;
    };
    // A first token, so that the issuer and its credentials are in the caches.
    env.token("first", spec.clone()).await;
    env.wait_ready("first").await;
    let server = env.t.server().expect("in memory");
    server.reset_requests();
    let reconciles_before = env.metrics.token_reconciles();
    for i in 0..TOKENS {
        env.token(&format!("t{i}"), spec.clone()).await;
    }
    for i in 0..TOKENS {
        env.wait_ready(&format!("t{i}")).await;
    }
    let requests = server.requests();
    assert_eq!(
        requests.get(Verb::Get, "secrets"),
        0,
        "no Secret read: {requests:?}"
    );
    assert_eq!(
        requests.get(Verb::Patch, "secrets"),
        TOKENS,
        "each Secret applied once: {requests:?}"
    );
    assert_eq!(
        requests.get(Verb::Patch, "videosdktokens/status"),
        TOKENS,
        "each status written once: {requests:?}"
    );
    // One reconcile per issuance: the Secret's own watch event, at the version just written,
    // brings none (two per issuance before). A few more are allowed where that event is mapped
    // before the write's answer is.
    let reconciles = env.metrics.token_reconciles() - reconciles_before;
    assert!(
        reconciles <= TOKENS + TOKENS / 4,
        "{reconciles} reconciles for {TOKENS} issuances"
    );
    env.cleanup().await;
}

/// A credentials rotation re-signs every token without reading its Secret: each Secret is as
/// the operator wrote it (the watch says so), and a token signed with other credentials is
/// re-signed whatever it holds. Each Secret is applied once more.
#[tokio::test]
async fn a_credentials_rotation_reads_no_secret_and_writes_each_once() {
    let Some((env, spec)) = counting_env("rotation-requests").await else {
        return;
    };
    for i in 0..TOKENS {
        env.token(&format!("t{i}"), spec.clone()).await;
    }
    for i in 0..TOKENS {
        env.wait_ready(&format!("t{i}")).await;
    }
    let server = env.t.server().expect("in memory");
    server.reset_requests();
    let rotated = "e2e-secret-requests-rotated-fedcba98765";
    env.credentials("creds", rotated).await;
    for i in 0..TOKENS {
        env.wait_secret(&format!("t{i}"), "re-signed with the new secret", |s| {
            s.and_then(jwt_of)
                .is_some_and(|jwt| token::verify(&jwt, rotated, SystemTime::now()).is_ok())
        })
        .await;
    }
    let requests = server.requests();
    assert_eq!(
        requests.get(Verb::Get, "secrets"),
        0,
        "no Secret read: {requests:?}"
    );
    assert_eq!(
        requests.get(Verb::Patch, "secrets"),
        TOKENS + 1,
        "the credentials applied once, each token's Secret once: {requests:?}"
    );
    env.cleanup().await;
}
