//! What GitOps tools make of the status the operator writes: kstatus's answer (Flux's health
//! checks, `kpt live status`; ported in `e2e_support::kstatus`) at each step of a token's and an
//! issuer's life, through every condition reason the operator writes on them here — new, issuer
//! not found, issuer not ready (no Secret, a missing key), issued, spec change, policy
//! violation, Secret not owned, a retry after an API error (in memory: fault injection),
//! recovered, deleting.
//!
//! Every object is read raw (not through the operator's types, which would fill in a missing
//! `observedGeneration`), as kstatus reads it.

use super::*;
use e2e_support::kstatus::{self, Status};
use kube::api::{ApiResource, DynamicObject, PostParams};
use videosdk_token_operator::api::VideoSdkIssuer;

const SECRET: &str = "e2e-secret-kstatus-0123456789abcdef";
/// A finalizer of the test's own, so that a deleted object stays long enough to be read.
const HOLD: &str = "e2e.videosdk.live/hold";

/// The objects of one kind, read and written raw.
struct Raw {
    api: Api<DynamicObject>,
    kind: &'static str,
}

impl Raw {
    fn new<K: kube::Resource<DynamicType = ()>>(env: &Env) -> Raw {
        Raw {
            api: Api::namespaced_with(
                env.t.client.clone(),
                env.namespace(),
                &ApiResource::erase::<K>(&()),
            ),
            kind: K::kind(&()).into_owned().leak(),
        }
    }

    async fn create(&self, object: Value) -> Value {
        let object: DynamicObject = serde_json::from_value(object).expect("a valid object");
        let created = self
            .api
            .create(&PostParams::default(), &object)
            .await
            .expect("created");
        serde_json::to_value(created).unwrap()
    }

    async fn patch(&self, name: &str, patch: Value) -> Value {
        let patched = self
            .api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patched");
        serde_json::to_value(patched).unwrap()
    }

    async fn get(&self, name: &str) -> Value {
        serde_json::to_value(self.api.get(name).await.expect("read")).unwrap()
    }

    /// Waits until `name`'s condition `type_` has `reason` for the object's current generation
    /// and only the conditions in `types` are there; returns the object.
    async fn wait(&self, name: &str, type_: &str, reason: &str, types: &[&str]) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let object = self.get(name).await;
            let generation = object.pointer("/metadata/generation").cloned();
            let present: Vec<&str> = object
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .map(|cs| cs.iter().filter_map(|c| c["type"].as_str()).collect())
                .unwrap_or_default();
            if condition(&object, type_).is_some_and(|c| {
                c["reason"] == reason && c.get("observedGeneration") == generation.as_ref()
            }) && present == types
            {
                return object;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} {name}: no {type_} condition with reason {reason} for its generation: {}",
                self.kind,
                object["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for `reason` on `Ready` and checks what kstatus makes of it: `expected`, with
    /// `Reconciling` or `Stalled` beside `Ready` carrying its reason and message as the class
    /// of the reason says.
    async fn step(&self, name: &str, reason: &str, expected: Status) -> Value {
        let beside = match expected {
            Status::InProgress => Some("Reconciling"),
            Status::Failed => Some("Stalled"),
            _ => None,
        };
        let types: Vec<&str> = std::iter::once("Ready").chain(beside).collect();
        let object = self.wait(name, "Ready", reason, &types).await;
        let ready = condition(&object, "Ready").unwrap();
        for type_ in ["Reconciling", "Stalled"] {
            match condition(&object, type_) {
                Some(c) if Some(type_) == beside => {
                    assert_eq!(
                        (&c["status"], &c["reason"], &c["message"]),
                        (&json!("True"), &ready["reason"], &ready["message"]),
                        "{type_} says what Ready says"
                    );
                }
                Some(c) => panic!("{} {name} ({reason}): unexpected {c}", self.kind),
                None => assert_ne!(beside, Some(type_), "{} {name}: no {type_}", self.kind),
            }
        }
        assert_eq!(
            object["status"]["observedGeneration"], object["metadata"]["generation"],
            "{} {name}: status.observedGeneration",
            self.kind
        );
        expect(
            &object,
            expected,
            &format!("{} {name}: {reason}", self.kind),
        );
        object
    }
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Asserts kstatus's answer for `object` at step `what`.
fn expect(object: &Value, expected: Status, what: &str) {
    let (status, message) = kstatus::compute(object);
    assert_eq!(status, expected, "{what}: kstatus says {message}: {object}");
}

#[tokio::test]
async fn kstatus_reads_every_step_of_a_token_and_an_issuer_right() {
    let Some(env) = Env::start("kstatus").await else {
        return;
    };
    let mut fixtures = Fixtures::default();
    let namespace = env.namespace().to_owned();
    let mut record = |kind: &'static str, name: &str, object: &Value| {
        fixtures.record(kind, name, object, &namespace)
    };
    let tokens = Raw::new::<VideoSdkToken>(&env);
    let issuers = Raw::new::<VideoSdkIssuer>(&env);
    let token = |spec: Value| {
        json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
               "metadata": {"name": "t", "finalizers": [HOLD]}, "spec": spec})
    };

    // New, before the operator wrote anything: the schema's default observedGeneration (0).
    let created = tokens
        .create(token(
            json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}),
        ))
        .await;
    assert_eq!(created["status"], json!({"observedGeneration": 0}));
    expect(&created, Status::InProgress, "a new token");
    record(TOKEN, "progressing_new", &created);
    let object = tokens.step("t", "IssuerNotFound", Status::InProgress).await;
    record(TOKEN, "progressing_issuerNotFound", &object);

    let created = issuers
        .create(
            json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkIssuer",
                       "metadata": {"name": "videosdk", "finalizers": [HOLD]},
                       "spec": {"credentialsSecretRef": {"name": "creds"}}}),
        )
        .await;
    expect(&created, Status::InProgress, "a new issuer");
    record(ISSUER, "progressing_new", &created);
    let object = issuers
        .step("videosdk", "SecretNotFound", Status::InProgress)
        .await;
    record(ISSUER, "progressing_secretNotFound", &object);
    let object = tokens.step("t", "IssuerNotReady", Status::InProgress).await;
    record(TOKEN, "progressing_issuerNotReady", &object);
    env.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                     "stringData": {"apiKey": API_KEY}}),
    )
    .await;
    let object = issuers.step("videosdk", "KeyMissing", Status::Failed).await;
    record(ISSUER, "degraded_keyMissing", &object);
    env.credentials("creds", SECRET).await;
    let object = issuers
        .step("videosdk", "CredentialsValid", Status::Current)
        .await;
    record(ISSUER, "healthy_credentialsValid", &object);
    let object = tokens.step("t", "Issued", Status::Current).await;
    record(TOKEN, "healthy_issued", &object);

    // A spec change reads InProgress until the operator has acted on it.
    let changed = tokens
        .patch("t", json!({"spec": {"permissions": ["ask_join"]}}))
        .await;
    expect(&changed, Status::InProgress, "a token's spec change");
    record(TOKEN, "progressing_specChanged", &changed);
    tokens.step("t", "Issued", Status::Current).await;

    // The issuer's policy refuses what the token asks: Failed, with the reason.
    let changed = issuers
        .patch(
            "videosdk",
            json!({"spec": {"allowedPermissions": ["allow_join"]}}),
        )
        .await;
    expect(&changed, Status::InProgress, "an issuer's spec change");
    record(ISSUER, "progressing_specChanged", &changed);
    issuers
        .step("videosdk", "CredentialsValid", Status::Current)
        .await;
    let object = tokens.step("t", "PolicyViolation", Status::Failed).await;
    record(TOKEN, "degraded_policyViolation", &object);
    tokens
        .patch("t", json!({"spec": {"permissions": ["allow_join"]}}))
        .await;
    tokens.step("t", "Issued", Status::Current).await;

    // A Secret of another owner: Failed until a person removes it or renames.
    env.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "taken"},
                     "stringData": {"token": "theirs"}}),
    )
    .await;
    tokens
        .patch("t", json!({"spec": {"secretName": "taken"}}))
        .await;
    let object = tokens.step("t", "SecretNotOwned", Status::Failed).await;
    record(TOKEN, "degraded_secretNotOwned", &object);
    env.delete_secret("taken").await;
    tokens.step("t", "Issued", Status::Current).await;

    // A retry after an API error: Reconciling, Ready as it was; recovered: Current.
    if let Some(server) = env.t.server() {
        server.add_fault(
            kube_apiserver_memory::FaultRule::any()
                .verb(kube_apiserver_memory::Verb::Patch)
                .resource("secrets")
                .internal_errors(1.0),
        );
        env.annotate_token("t", RENEW_NOW, "1").await;
        let retrying = tokens
            .wait("t", "Reconciling", "ApiError", &["Ready", "Reconciling"])
            .await;
        let message = condition(&retrying, "Reconciling").unwrap()["message"].clone();
        assert_eq!(
            message,
            json!("the Kubernetes API answered 500 InternalError; retrying with backoff")
        );
        assert_eq!(
            condition(&retrying, "Ready").unwrap()["reason"],
            "Issued",
            "the Secret still holds the valid token"
        );
        assert!(condition(&retrying, "Stalled").is_none());
        expect(&retrying, Status::InProgress, "a retry after an API error");
        record(TOKEN, "progressing_apiError", &retrying);
        server.clear_faults();
        let recovered = tokens.step("t", "Issued", Status::Current).await;
        assert_eq!(recovered["status"]["renewNowHandled"], "1");
        record(TOKEN, "healthy_renewed", &recovered);
    } else {
        skipped_on_a_real_cluster("an API error on demand needs the in-memory API server's faults");
    }

    // Deleting: Terminating while a finalizer holds the objects.
    env.tokens()
        .delete("t", &DeleteParams::default())
        .await
        .unwrap();
    expect(
        &tokens.get("t").await,
        Status::Terminating,
        "a deleted token",
    );
    issuers
        .api
        .delete("videosdk", &DeleteParams::default())
        .await
        .unwrap();
    expect(
        &issuers.get("videosdk").await,
        Status::Terminating,
        "a deleted issuer",
    );
    let release = json!({"metadata": {"finalizers": null}});
    tokens.patch("t", release.clone()).await;
    issuers.patch("videosdk", release).await;
    env.wait_token_gone("t").await;
    fixtures.sync();
    env.cleanup().await;
}

const TOKEN: &str = "VideoSdkToken";
const ISSUER: &str = "VideoSdkIssuer";

/// The annotation that asks for a re-sign.
const RENEW_NOW: &str = videosdk_token_operator::api::RENEW_NOW_ANNOTATION;

/// The reasons only a spec that bypassed admission (an older CRD) brings: `InvalidSpec` and
/// `SecretRejected` read Failed; fixed, the token reads Current again. In memory only: it
/// replaces the cluster-wide CRD.
#[tokio::test]
async fn kstatus_reads_a_spec_that_bypassed_admission_as_failed() {
    if skipped_on_a_real_cluster(
        "replaces the cluster-wide VideoSdkToken CRD with one without some of its rules",
    ) {
        return;
    }
    let Some(env) = Env::start_on(TestCluster::in_memory("kstatus-bypass").await).await else {
        return;
    };
    let mut crd = serde_json::to_value(bad_input::crd_without_secret_template_rules()).unwrap();
    crd.pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/roomId")
        .and_then(Value::as_object_mut)
        .expect("spec.roomId in the CRD")
        .remove("x-kubernetes-validations");
    env.t
        .apply_crds(&[serde_json::from_value(crd).unwrap()])
        .await;
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    let tokens = Raw::new::<VideoSdkToken>(&env);
    let spec = json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]});
    env.token("t", spec.clone()).await;
    tokens.step("t", "Issued", Status::Current).await;
    tokens
        .patch("t", json!({"spec": {"roomId": "room\u{1}"}}))
        .await;
    tokens.step("t", "InvalidSpec", Status::Failed).await;
    tokens
        .patch(
            "t",
            json!({"spec": {"roomId": null, "secretTemplate": {"labels": {"bad key!": "x"}}}}),
        )
        .await;
    tokens.step("t", "SecretRejected", Status::Failed).await;
    tokens
        .patch("t", json!({"spec": {"secretTemplate": null}}))
        .await;
    tokens.step("t", "Issued", Status::Current).await;
    env.cleanup().await;
}

/// The statuses the test observed, as Argo CD's health checks under
/// `deploy/argocd/resource_customizations/videosdk.live/` read them: each kept there as
/// `testdata/<name>.yaml`, which `cargo test --test deploy argocd` runs through the checks in a
/// Lua 5.1 interpreter. `VIDEOSDK_WRITE_ARGOCD_FIXTURES=1` writes them; otherwise each observed
/// object must equal its file once times, uids, token ids and the namespace are made fixed.
#[derive(Default)]
struct Fixtures {
    /// (kind, file name without `.yaml`, the object normalised).
    seen: Vec<(&'static str, String, Value)>,
}

/// The namespace the fixtures show instead of the test's own.
const FIXTURE_NAMESPACE: &str = "apps";
/// The time every fixture shows instead of each time the operator wrote.
const FIXTURE_TIME: &str = "2026-01-01T00:00:00Z";

impl Fixtures {
    /// Keeps `object` (of `kind`) as fixture `name`; for the issuer, also as the cluster
    /// issuer's (the same status, written by the same code, `controller::issuers::write`).
    fn record(&mut self, kind: &'static str, name: &str, object: &Value, namespace: &str) {
        let mut object = normalised(object, namespace);
        self.seen.push((kind, name.to_owned(), object.clone()));
        if kind == "VideoSdkIssuer" {
            object["kind"] = json!("ClusterVideoSdkIssuer");
            if let Some(meta) = object["metadata"].as_object_mut() {
                meta.remove("namespace");
            }
            self.seen
                .push(("ClusterVideoSdkIssuer", name.to_owned(), object));
        }
    }

    /// Writes the fixtures, or checks that each equals its file.
    fn sync(&self) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/argocd/resource_customizations/videosdk.live");
        let write = std::env::var_os("VIDEOSDK_WRITE_ARGOCD_FIXTURES").is_some();
        for (kind, name, object) in &self.seen {
            let path = root
                .join(kind)
                .join("testdata")
                .join(format!("{name}.yaml"));
            let text = serde_yaml::to_string(object).unwrap();
            if write {
                std::fs::write(&path, text).unwrap();
                continue;
            }
            let stored = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                stored,
                text,
                "{} differs from what the operator wrote; rewrite with VIDEOSDK_WRITE_ARGOCD_FIXTURES=1 cargo test --test operator kstatus",
                path.display()
            );
        }
    }
}

/// `object` with what changes from run to run made fixed: the server's metadata (uid,
/// resourceVersion, creationTimestamp, managedFields), the test's finalizer, times, token ids,
/// failure counts, and the namespace (also inside messages).
fn normalised(object: &Value, namespace: &str) -> Value {
    let text = serde_json::to_string(object)
        .unwrap()
        .replace(namespace, FIXTURE_NAMESPACE);
    let mut object: Value = serde_json::from_str(&text).unwrap();
    if let Some(meta) = object["metadata"].as_object_mut() {
        for key in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "finalizers",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.remove(key);
        }
    }
    if let Some(status) = object["status"].as_object_mut() {
        for key in ["notBefore", "notAfter", "renewalTime", "lastFailureTime"] {
            if status.contains_key(key) {
                status.insert(key.into(), json!(FIXTURE_TIME));
            }
        }
        if status.contains_key("tokenId") {
            status.insert(
                "tokenId".into(),
                json!("00000000-0000-4000-8000-000000000000"),
            );
        }
        if status.contains_key("failedIssuanceAttempts") {
            status.insert("failedIssuanceAttempts".into(), json!(1));
        }
        for condition in status
            .get_mut("conditions")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            condition["lastTransitionTime"] = json!(FIXTURE_TIME);
        }
    }
    sorted(object)
}

/// `value` with the keys of every object in order, so that a fixture does not depend on the
/// order a server answers in.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let entries: std::collections::BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
