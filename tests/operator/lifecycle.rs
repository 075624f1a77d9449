//! The life of a token: issued, renewed, re-signed on change, restored, never overwriting what
//! is not its own, deleted with its token.

use super::*;

const SECRET: &str = "e2e-secret-lifecycle-0123456789abcdef";

async fn env_with_issuer(test: &str) -> Option<Env> {
    let env = Env::start(test).await?;
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    Some(env)
}

/// (1) The Secret holds a JWT that verifies with the secret and carries exactly the claims asked
/// for; status is filled; Ready=True.
#[tokio::test]
async fn issues_a_token_with_exactly_the_claims_asked_for() {
    let Some(env) = env_with_issuer("issues").await else {
        return;
    };
    env.token(
        "participant",
        json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join", "allow_mod"],
               "roles": ["rtc"], "roomId": "room-1", "participantId": "alice", "ttl": "2h",
               "secretTemplate": {"labels": {"app": "client"}, "annotations": {"team": "media"}}}),
    )
    .await;
    let token = env.wait_ready("participant").await;
    let secret = env.secrets().get("participant").await.unwrap();
    let claims = verified(&jwt_of(&secret).unwrap(), SECRET);
    assert_eq!(claims.apikey, API_KEY);
    assert_eq!(claims.permissions, ["allow_join", "allow_mod"]);
    assert_eq!(claims.roles.as_deref(), Some(&["rtc".to_owned()][..]));
    assert_eq!(claims.room_id.as_deref(), Some("room-1"));
    assert_eq!(claims.participant_id.as_deref(), Some("alice"));
    assert_eq!(claims.version, Some(2));
    assert_eq!(claims.exp - claims.iat, 7200);
    assert!(
        claims.other.is_empty(),
        "no claims beyond the design's: {:?}",
        claims.other
    );

    let status = token.status.unwrap();
    assert_eq!(status.token_id, claims.jti);
    assert_eq!(status.secret_name.as_deref(), Some("participant"));
    assert_eq!(status.not_before.unwrap().0.as_second() as u64, claims.iat);
    assert_eq!(status.not_after.unwrap().0.as_second() as u64, claims.exp);
    let renewal = status.renewal_time.unwrap().0.as_second() as u64;
    assert!(renewal > claims.iat && renewal < claims.exp);

    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let labels = secret.metadata.labels.unwrap();
    assert_eq!(
        labels["app.kubernetes.io/managed-by"],
        "videosdk-token-operator"
    );
    assert_eq!(labels["videosdk.live/token-name"], "participant");
    assert_eq!(labels["app"], "client");
    let annotations = secret.metadata.annotations.unwrap();
    assert_eq!(annotations["team"], "media");
    assert_eq!(
        Some(&annotations["videosdk.live/token-id"]),
        claims.jti.as_ref()
    );
    let owner = &secret.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("VideoSdkToken", Some(true))
    );
    env.wait_event("participant", "Issued").await;
    env.cleanup().await;
}

/// (2) A short TTL is re-signed (new jti) before it expires, more than once.
#[tokio::test]
async fn renews_before_expiry_more_than_once() {
    let Some(env) = env_with_issuer("renews").await else {
        return;
    };
    // The shortest legal schedule: 2m10s renewed 2m before expiry, a renewal every 11 seconds.
    env.token("short", json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "2m10s", "renewBefore": "2m"}))
        .await;
    let mut seen = Vec::new();
    let mut jti = env
        .wait_ready("short")
        .await
        .status
        .unwrap()
        .token_id
        .unwrap();
    seen.push(jti.clone());
    for _ in 0..2 {
        let previous = jti.clone();
        let renewed = env
            .wait_token("short", "renewed", move |t| {
                t.status
                    .as_ref()
                    .and_then(|s| s.token_id.as_ref())
                    .is_some_and(|id| *id != previous)
            })
            .await;
        jti = renewed.status.unwrap().token_id.unwrap();
        let claims = verified(&env.jwt("short").await, SECRET);
        assert!(
            claims.exp > token_now(),
            "the Secret never holds an expired token"
        );
        seen.push(jti.clone());
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "three distinct token ids: {seen:?}");
    env.wait_event("short", "Renewed").await;
    env.cleanup().await;
}

/// A token whose renew window is below the operator's `--min-renew-before` (raised above the
/// CRD's 2m floor for kubelets that sync slowly, or a spec that passed an older CRD) goes
/// `Ready=False` (`InvalidSpec`) with a Warning Event naming the window, the minimum and the
/// fix; the token already in its Secret is kept, and a longer window makes it Ready again,
/// with the failure's count and time gone from its status.
#[tokio::test]
async fn a_renew_window_below_the_operators_minimum_keeps_the_token_and_says_so() {
    let Some(mut env) = env_with_issuer("min-renew").await else {
        return;
    };
    let spec = |renew_before: &str| json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "1h", "renewBefore": renew_before});
    env.token("t", spec("2m")).await;
    env.wait_ready("t").await;
    let kept = env.jwt("t").await;
    env.stop_operator().await;
    let client = env.t.client.clone();
    env.start_operator_configured(client, |s| s.min_renew_before = Duration::from_secs(180));
    let t = env.wait_not_ready("t", "InvalidSpec").await;
    let message = t
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("spec.renewBefore 2m gives a renew window of 2m, shorter than the minimum of 3m (run --min-renew-before)")
            && message.contains("set spec.renewBefore to at least 3m"),
        "{message}"
    );
    let event = env.wait_event("t", "InvalidSpec").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(env.jwt("t").await, kept, "the token in the Secret is kept");
    env.token("t", spec("5m")).await;
    let ready = env.wait_ready("t").await.status.unwrap_or_default();
    assert_eq!(
        env.jwt("t").await,
        kept,
        "a longer window alone re-signs nothing"
    );
    // Ready again, the status holds nothing of the failure.
    assert_eq!(
        (ready.failed_issuance_attempts, ready.last_failure_time),
        (None, None),
        "the failure's record is gone once Ready"
    );
    env.cleanup().await;
}

fn token_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// (3) Changing permissions re-signs; changing only secretTemplate labels updates the Secret
/// without re-signing.
#[tokio::test]
async fn spec_changes_resign_but_template_changes_do_not() {
    let Some(env) = env_with_issuer("changes").await else {
        return;
    };
    let spec = |permissions: Value, labels: Value| json!({"issuerRef": {"name": "videosdk"}, "permissions": permissions, "secretTemplate": {"labels": labels}});
    env.token("t", spec(json!(["allow_join"]), json!({"a": "1"})))
        .await;
    let first = env.wait_ready("t").await.status.unwrap().token_id.unwrap();

    env.token("t", spec(json!(["allow_join"]), json!({"b": "2"})))
        .await;
    let secret = env
        .wait_secret("t", "relabelled", |s| {
            s.and_then(|s| s.metadata.labels.as_ref())
                .is_some_and(|l| l.get("b").is_some_and(|v| v == "2") && !l.contains_key("a"))
        })
        .await
        .unwrap();
    let kept = verified(&jwt_of(&secret).unwrap(), SECRET);
    assert_eq!(
        kept.jti.as_ref(),
        Some(&first),
        "a label change must not re-sign"
    );
    env.wait_ready("t").await;

    env.token(
        "t",
        spec(json!(["allow_join", "allow_mod"]), json!({"b": "2"})),
    )
    .await;
    let resigned = env
        .wait_token("t", "re-signed", |t| {
            t.status
                .as_ref()
                .and_then(|s| s.token_id.as_ref())
                .is_some_and(|id| *id != first)
        })
        .await;
    let claims = verified(&env.jwt("t").await, SECRET);
    assert_eq!(claims.permissions, ["allow_join", "allow_mod"]);
    assert_eq!(resigned.status.unwrap().token_id, claims.jti);
    env.cleanup().await;
}

/// (4) Changing the credentials Secret re-signs every token of that issuer; the new tokens verify
/// with the new secret only.
#[tokio::test]
async fn credential_rotation_resigns_every_token_of_the_issuer() {
    let Some(env) = env_with_issuer("rotation").await else {
        return;
    };
    for name in ["a", "b", "c"] {
        env.token(
            name,
            json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}),
        )
        .await;
    }
    for name in ["a", "b", "c"] {
        env.wait_ready(name).await;
    }
    let rotated = "e2e-secret-rotated-fedcba9876543210";
    env.credentials("creds", rotated).await;
    for name in ["a", "b", "c"] {
        let secret = env
            .wait_secret(name, "re-signed with the new secret", |s| {
                s.and_then(jwt_of)
                    .is_some_and(|jwt| token::verify(&jwt, rotated, SystemTime::now()).is_ok())
            })
            .await
            .unwrap();
        let jwt = jwt_of(&secret).unwrap();
        assert!(
            token::verify(&jwt, SECRET, SystemTime::now()).is_err(),
            "the old secret no longer verifies {name}"
        );
    }
    env.cleanup().await;
}

/// (5) Deleting the Secret, or editing its token, restores a valid one.
#[tokio::test]
async fn a_deleted_or_edited_secret_is_restored() {
    let Some(env) = env_with_issuer("restore").await else {
        return;
    };
    env.token(
        "t",
        json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}),
    )
    .await;
    env.wait_ready("t").await;
    env.delete_secret("t").await;
    let restored = env
        .wait_secret("t", "restored", |s| s.and_then(jwt_of).is_some())
        .await
        .unwrap();
    verified(&jwt_of(&restored).unwrap(), SECRET);

    let patch = json!({"data": {"token": "bm90IGEgdG9rZW4="}});
    env.secrets()
        .patch("t", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let repaired = env
        .wait_secret("t", "repaired", |s| {
            s.and_then(jwt_of)
                .is_some_and(|j| token::verify(&j, SECRET, SystemTime::now()).is_ok())
        })
        .await
        .unwrap();
    verified(&jwt_of(&repaired).unwrap(), SECRET);
    env.cleanup().await;
}

/// (6) A foreign Secret of the same name stays byte-for-byte untouched; the token says
/// SecretNotOwned.
#[tokio::test]
async fn a_foreign_secret_is_never_touched() {
    let Some(env) = env_with_issuer("foreign").await else {
        return;
    };
    env.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "taken", "labels": {"owner": "someone-else"}},
                     "stringData": {"token": "theirs"}}))
        .await;
    let before = env.secrets().get("taken").await.unwrap();
    env.token("t", json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "secretName": "taken"})).await;
    let token = env.wait_not_ready("t", "SecretNotOwned").await;
    let message = &token.status.unwrap().conditions[0].message;
    assert!(
        message.contains("taken") && message.contains("spec.secretName"),
        "{message}"
    );
    env.wait_event("t", "SecretNotOwned").await;
    let after = env.secrets().get("taken").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "not written at all"
    );
    assert_eq!(after.data, before.data);
    env.cleanup().await;
}

/// (7) Deleting the token deletes its Secret (ownerReference garbage collection).
#[tokio::test]
async fn deleting_the_token_deletes_its_secret() {
    let Some(env) = env_with_issuer("delete").await else {
        return;
    };
    env.token("t", json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "secretName": "t-secret"})).await;
    env.wait_ready("t").await;
    env.tokens()
        .delete("t", &DeleteParams::default())
        .await
        .unwrap();
    env.wait_secret("t-secret", "deleted", |s| s.is_none())
        .await;
    env.cleanup().await;
}

/// (7b) A token deleted and applied again under the same name (a GitOps replace, `kubectl
/// delete` then `apply`) is a new object: it is issued a token of its own, although its name,
/// generation and spec are the old one's. On a real cluster the garbage collector may delete
/// the old token's Secret after the new token is first reconciled: that reconcile finds a
/// Secret owned by another UID (`SecretNotOwned`), and the Secret's deletion brings the next
/// one, all within the wait's deadline.
#[tokio::test]
async fn a_token_deleted_and_applied_again_is_issued_anew() {
    let Some(env) = env_with_issuer("recreate").await else {
        return;
    };
    let spec = json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]});
    env.token("t", spec.clone()).await;
    let first = env.wait_ready("t").await;
    env.tokens()
        .delete("t", &DeleteParams::default())
        .await
        .unwrap();
    env.wait_token_gone("t").await;
    env.token("t", spec).await;
    let old_uid = first.metadata.uid.clone();
    let old_id = first.status.and_then(|s| s.token_id);
    let second = env
        .wait_token("t", "Ready with a token of its own", move |t| {
            t.metadata.uid != old_uid
                && ready_reason(t).as_deref() == Some("True/Issued")
                && t.status.as_ref().and_then(|s| s.token_id.clone()) != old_id
        })
        .await;
    let secret = env
        .wait_secret("t", "holding the new token", |s| {
            s.and_then(jwt_of).is_some_and(|j| {
                token::verify(&j, SECRET, SystemTime::now())
                    .is_ok_and(|c| c.jti == second.status.as_ref().and_then(|s| s.token_id.clone()))
            })
        })
        .await;
    assert!(secret.is_some());
    env.cleanup().await;
}

/// (10) Renew-now via the annotation re-signs once.
#[tokio::test]
async fn renew_now_resigns_once() {
    let Some(env) = env_with_issuer("renew-now").await else {
        return;
    };
    env.token(
        "t",
        json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}),
    )
    .await;
    let first = env.wait_ready("t").await.status.unwrap().token_id.unwrap();
    env.annotate_token("t", "videosdk.live/renew-now", "2026-11-28T10:00:00Z")
        .await;
    let second = env
        .wait_token("t", "re-signed", move |t| {
            t.status
                .as_ref()
                .and_then(|s| s.token_id.as_ref())
                .is_some_and(|id| *id != first)
        })
        .await
        .status
        .unwrap()
        .token_id
        .unwrap();
    // Touch the token again without a new renew-now value: no further re-sign.
    env.annotate_token("t", "unrelated", "x").await;
    env.token("t", json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "secretTemplate": {"labels": {"x": "y"}}})).await;
    env.wait_secret("t", "relabelled", |s| {
        s.and_then(|s| s.metadata.labels.as_ref())
            .is_some_and(|l| l.contains_key("x"))
    })
    .await;
    let claims = verified(&env.jwt("t").await, SECRET);
    assert_eq!(
        claims.jti.as_ref(),
        Some(&second),
        "renew-now re-signs once per value"
    );
    env.wait_events("t", "Renewed", 1).await;
    env.cleanup().await;
}
