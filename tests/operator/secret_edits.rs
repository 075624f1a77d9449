//! What people and tools do to the Secrets the operator manages — `kubectl edit`, a GitOps tool
//! re-applying an old copy, a team copying a "working" token from another Secret, an uninstall
//! script stripping ownerReferences — and the one right state the operator converges to: exactly
//! the token it would issue for the spec, every mark it leaves restored, and a status that says
//! so only once it is true.
//!
//! Every test runs against a real cluster too (`VIDEOSDK_E2E_KUBECONFIG`): each edit is an
//! ordinary patch any user could send, and every wait has a deadline that names what it waited
//! for.

use crate::*;
use k8s_openapi::ByteString;
use videosdk_token_operator::token::{Credentials, TokenRequest};

const SECRET: &str = "e2e-secret-edits-0123456789";

/// The two tokens: `participant` (v2: `rtc`, a room) and `moderator`, both `ttl: 1h`.
async fn env_with_two_tokens(test: &str) -> Option<Env> {
    let env = Env::start(test).await?;
    env.credentials("creds", SECRET).await;
    env.issuer("issuer", "creds", json!({})).await;
    env.token(
        "participant",
        json!({"issuerRef": {"name": "issuer"}, "permissions": ["allow_join"],
               "roles": ["rtc"], "roomId": "abcd-efgh-ijkl", "ttl": "1h"}),
    )
    .await;
    env.token(
        "moderator",
        json!({"issuerRef": {"name": "issuer"}, "permissions": ["allow_join", "allow_mod"],
               "ttl": "1h"}),
    )
    .await;
    env.wait_ready("participant").await;
    env.wait_ready("moderator").await;
    Some(env)
}

/// Replaces `data.token` of Secret `name` with `jwt`, as `kubectl edit` would.
async fn store(env: &Env, name: &str, jwt: &str) {
    let patch = json!({"data": {"token": ByteString(jwt.as_bytes().to_vec())}});
    env.secrets()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("editing Secret {name}: {e}"));
}

/// Waits until Secret `name` holds a token other than `not` that verifies, and the token's
/// status records it; returns its claims.
async fn wait_resigned(env: &Env, name: &str, not: &str) -> Claims {
    let not = not.to_owned();
    let secret = env
        .wait_secret(name, "re-signed", move |s| {
            s.and_then(jwt_of).is_some_and(|jwt| {
                jwt != not && token::verify(&jwt, SECRET, SystemTime::now()).is_ok()
            })
        })
        .await
        .expect("the Secret exists");
    let claims = verified(&jwt_of(&secret).unwrap(), SECRET);
    let jti = claims.jti.clone();
    env.wait_token(name, "Ready with the new token's id", move |t| {
        ready_reason(t).as_deref() == Some("True/Issued")
            && t.status.as_ref().and_then(|s| s.token_id.clone()) == jti
    })
    .await;
    claims
}

/// Waits until an Event about `name` mentions `reason`.
async fn wait_event_saying(env: &Env, name: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = env.events(name, "Renewed").await;
        if events
            .iter()
            .any(|e| e.note.as_deref().is_some_and(|n| n.contains(what)))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Renewed Event about {name} saying {what:?}; saw {:?}",
            events.iter().map(|e| e.note.clone()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The participant's claims, exactly as its spec asks.
fn assert_participant(claims: &Claims) {
    assert_eq!(claims.apikey, API_KEY);
    assert_eq!(claims.permissions, ["allow_join"]);
    assert_eq!(claims.roles.as_deref(), Some(&["rtc".to_owned()][..]));
    assert_eq!(claims.room_id.as_deref(), Some("abcd-efgh-ijkl"));
    assert_eq!(claims.version, Some(2));
    assert_eq!(claims.exp - claims.iat, 3600, "ttl: 1h");
}

/// Issue #10, case 1: another valid token of the same issuer copied into the Secret — the
/// moderator's token, or one signed by hand (`sign --permissions allow_mod --ttl 8760h`) with
/// the same credentials — is re-signed within seconds, with a reason of its own.
#[tokio::test]
async fn another_valid_token_of_the_same_issuer_is_resigned() {
    let Some(env) = env_with_two_tokens("edits-copied").await else {
        return;
    };
    let moderator = env.jwt("moderator").await;
    store(&env, "participant", &moderator).await;
    let claims = wait_resigned(&env, "participant", &moderator).await;
    assert_participant(&claims);
    wait_event_saying(&env, "participant", "they differ in permissions").await;

    let hand_signed = {
        let request = TokenRequest {
            permissions: vec![videosdk_token_operator::api::Permission::AllowMod],
            roles: vec![],
            room_id: None,
            participant_id: None,
            ttl: Duration::from_secs(8760 * 3600),
        };
        let credentials = Credentials::new(API_KEY, SECRET).unwrap();
        token::sign(&request, &credentials, SystemTime::now())
            .unwrap()
            .jwt
    };
    store(&env, "participant", &hand_signed).await;
    let claims = wait_resigned(&env, "participant", &hand_signed).await;
    assert_participant(&claims);
    let token = env.tokens().get("participant").await.unwrap();
    let status = token.status.unwrap();
    let (not_before, not_after) = (status.not_before.unwrap(), status.not_after.unwrap());
    assert_eq!(
        not_after.0.as_second() - not_before.0.as_second(),
        3600,
        "status.notAfter is the re-signed token's, not a year out"
    );
    env.cleanup().await;
}

/// Issue #10: a twin token (same spec, same issuer) copied in, Secret and all, is not this
/// token: its `jti` is not the one the operator recorded.
#[tokio::test]
async fn a_twin_tokens_secret_copied_in_is_resigned() {
    let Some(env) = Env::start("edits-twin").await else {
        return;
    };
    env.credentials("creds", SECRET).await;
    env.issuer("issuer", "creds", json!({})).await;
    for name in ["a", "b"] {
        env.token(
            name,
            json!({"issuerRef": {"name": "issuer"}, "permissions": ["allow_join"], "ttl": "1h"}),
        )
        .await;
        env.wait_ready(name).await;
    }
    let a = env.secrets().get("a").await.unwrap();
    let a_jwt = jwt_of(&a).unwrap();
    // The data and every annotation of Secret a, onto Secret b.
    let patch = json!({"data": a.data, "metadata": {"annotations": a.metadata.annotations}});
    env.secrets()
        .patch("b", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let claims = wait_resigned(&env, "b", &a_jwt).await;
    assert_ne!(claims.jti, verified(&a_jwt, SECRET).jti);
    wait_event_saying(&env, "b", "not the one the operator recorded").await;
    assert_eq!(env.jwt("a").await, a_jwt, "the original is left alone");
    env.cleanup().await;
}

/// Issue #10, case 3: only the exact compact JWT counts; whitespace around it is re-signed.
#[tokio::test]
async fn whitespace_around_the_stored_token_is_resigned() {
    let Some(env) = env_with_two_tokens("edits-whitespace").await else {
        return;
    };
    for padding in [("", "\n"), ("  ", "\r\n")] {
        let jwt = env.jwt("participant").await;
        let padded = format!("{}{jwt}{}", padding.0, padding.1);
        store(&env, "participant", &padded).await;
        let claims = wait_resigned(&env, "participant", &padded).await;
        assert_participant(&claims);
        let stored = env.jwt("participant").await;
        assert_eq!(stored.trim(), stored, "exactly the compact JWT");
    }
    wait_event_saying(&env, "participant", "whitespace around it").await;
    env.cleanup().await;
}

/// The operator knows its Secret by every mark it leaves, never by one alone: each mark (or
/// two of them at once) that a tool removes is restored, and the token, still right, is not
/// re-signed.
#[tokio::test]
async fn stripped_marks_are_restored_without_a_resign() {
    let Some(env) = env_with_two_tokens("edits-marks").await else {
        return;
    };
    let jwt = env.jwt("participant").await;
    let original = env.secrets().get("participant").await.unwrap();
    let annotations_null: serde_json::Map<String, Value> = original
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .keys()
        .filter(|k| k.starts_with("videosdk.live/") && *k != "videosdk.live/token-uid")
        .map(|k| (k.clone(), Value::Null))
        .collect();
    let edits = [
        (
            "ownerReferences",
            json!({"metadata": {"ownerReferences": null}}),
        ),
        ("labels", json!({"metadata": {"labels": null}})),
        (
            "the record annotations",
            json!({"metadata": {"annotations": annotations_null}}),
        ),
        (
            "ownerReferences and labels",
            json!({"metadata": {"ownerReferences": null, "labels": null}}),
        ),
    ];
    for (what, patch) in edits {
        env.secrets()
            .patch(
                "participant",
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .unwrap_or_else(|e| panic!("stripping {what}: {e}"));
        let want = original.clone();
        let restored = env
            .wait_secret(
                "participant",
                &format!("restored after {what} were stripped"),
                move |s| {
                    s.is_some_and(|s| {
                        s.metadata.owner_references == want.metadata.owner_references
                            && s.metadata.labels == want.metadata.labels
                            && want.metadata.annotations.iter().flatten().all(|(k, v)| {
                                s.metadata.annotations.as_ref().and_then(|a| a.get(k)) == Some(v)
                            })
                    })
                },
            )
            .await
            .unwrap();
        assert_eq!(
            jwt_of(&restored).as_deref(),
            Some(jwt.as_str()),
            "{what} stripped: the token was re-signed although it was right"
        );
        let token = env.tokens().get("participant").await.unwrap();
        assert_eq!(
            ready_reason(&token).as_deref(),
            Some("True/Issued"),
            "{what}"
        );
    }
    assert_eq!(
        env.metrics.total_issuances(),
        2,
        "only the two first issuances"
    );
    env.cleanup().await;
}

/// (13b) A Secret deleted while the operator's watch of its Secrets is down, for longer than
/// the API server keeps watch history (so the watch comes back with 410 Gone and lists again,
/// and no deletion event ever comes), is restored once the watch has listed. Needs the
/// in-memory API server's fault injection and a short watch history, so it runs in memory only.
#[tokio::test]
async fn a_secret_deleted_while_the_watch_was_down_is_restored() {
    if skipped_on_a_real_cluster(
        "holding a watch down past the watch history needs the in-memory API server's faults",
    ) {
        return;
    }
    let options = kube_apiserver_memory::ApiServerOptions {
        watch_history: 20,
        ..Default::default()
    };
    let t = e2e_support::cluster::TestCluster::in_memory_with(options, "relist").await;
    let Some(env) = Env::start_on(t).await else {
        return;
    };
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    env.token(
        "t",
        json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}),
    )
    .await;
    env.wait_ready("t").await;
    let server = env.t.server().expect("in memory");
    server.add_fault(
        kube_apiserver_memory::FaultRule::any()
            .verb(kube_apiserver_memory::Verb::Watch)
            .resource("secrets")
            .internal_errors(1.0),
    );
    server.close_watches();
    env.secrets()
        .delete("t", &DeleteParams::default())
        .await
        .unwrap();
    // More Secret events than the history keeps, so the operator's resume point is gone.
    for i in 0..30 {
        env.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("filler-{i}")}}))
            .await;
    }
    server.clear_faults();
    env.wait_secret("t", "restored with a valid token", |s| {
        s.and_then(jwt_of)
            .is_some_and(|j| token::verify(&j, SECRET, SystemTime::now()).is_ok())
    })
    .await;
    env.cleanup().await;
}
