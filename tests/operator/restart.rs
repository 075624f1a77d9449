//! (8) Restarting the operator with 100 valid tokens makes zero writes. Needs the in-memory API
//! server's request accounting, so it runs in memory only.

use super::*;

const SECRET: &str = "e2e-secret-restart-0123456789abcdef";
const TOKENS: usize = 100;

#[tokio::test]
async fn a_restart_with_100_valid_tokens_writes_nothing() {
    if skipped_on_a_real_cluster(
        "counting writes needs the in-memory API server's request accounting",
    ) {
        return;
    }
    let Some(mut env) = Env::start("restart").await else {
        return;
    };
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    for i in 0..TOKENS {
        env.token(
            &format!("t{i}"),
            json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}),
        )
        .await;
    }
    let mut ids = Vec::new();
    for i in 0..TOKENS {
        ids.push(
            env.wait_ready(&format!("t{i}"))
                .await
                .status
                .unwrap()
                .token_id,
        );
    }
    assert_eq!(env.metrics.total_issuances(), TOKENS as u64);

    env.restart_operator().await;
    let server = env.t.server().expect("in memory");
    server.reset_requests();
    // Wait until the new operator has reconciled every token once.
    let deadline = tokio::time::Instant::now() + WAIT;
    while env.metrics.token_reconciles() < TOKENS as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {TOKENS} reconciled",
            env.metrics.token_reconciles()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let writes = server.requests().writes();
    assert_eq!(
        writes,
        0,
        "a restart must write nothing: {:?}",
        server.requests()
    );
    assert_eq!(
        env.metrics.total_issuances(),
        0,
        "a restart re-signs nothing"
    );
    for (i, before) in ids.iter().enumerate() {
        let now = env
            .tokens()
            .get(&format!("t{i}"))
            .await
            .unwrap()
            .status
            .unwrap()
            .token_id;
        assert_eq!(&now, before);
    }
    env.cleanup().await;
}
