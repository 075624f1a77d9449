//! `status` and `renew` against the in-memory API server with the operator running, run as a
//! user runs them: the binary (and the real kubectl, with the binary on `PATH` as the plugin
//! `kubectl-videosdk`) with `KUBECONFIG` pointing at the server.

use crate::cluster::Cluster;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};
use videosdk_token_operator::api::{RENEW_NOW_ANNOTATION, VideoSdkToken};

/// Generous for two cores shared with other builds.
const WAIT: Duration = Duration::from_secs(60);

/// The API secret of the `dev` examples' credentials; no output may contain it.
const DEV_SECRET: &str = "demo-secret-for-the-dev-command-only-0123456789";

/// Tokens beside the `dev` examples: two labelled `app=web` and one unlabelled in `default`, and
/// one labelled `app=web` in `other`, with its own issuer.
const MORE_TOKENS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: v1
kind: Secret
metadata: {name: videosdk-credentials, namespace: other}
stringData: {apiKey: demo-api-key, secret: demo-secret-for-the-dev-command-only-0123456789}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkIssuer
metadata: {name: videosdk, namespace: other}
spec: {credentialsSecretRef: {name: videosdk-credentials}}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: web-a, namespace: default, labels: {app: web}}
spec: {issuerRef: {name: videosdk}, permissions: [allow_join]}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: web-b, namespace: default, labels: {app: web}}
spec: {issuerRef: {name: videosdk}, permissions: [ask_join]}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: solo, namespace: default}
spec: {issuerRef: {name: videosdk}, permissions: [allow_join]}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: web-c, namespace: other, labels: {app: web}}
spec: {issuerRef: {name: videosdk}, permissions: [allow_join]}
"#;

/// A finished run: exit code, stdout, stderr.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn finish(command: &mut Command) -> Out {
    let out = command.output().expect("the command runs");
    Out {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// Every token stored in a Secret of the cluster now.
fn stored_tokens(cluster: &Cluster) -> Vec<String> {
    cluster.with_client(|client| async move {
        Api::<Secret>::all(client)
            .list(&ListParams::default())
            .await
            .expect("Secrets list")
            .items
            .into_iter()
            .filter_map(|s| s.data?.remove("token"))
            .map(|t| String::from_utf8(t.0).expect("UTF-8 token"))
            .collect()
    })
}

/// Fails when `out` shows the API secret or any token stored in the cluster.
fn assert_no_credentials(cluster: &Cluster, what: &str, out: &Out) {
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(DEV_SECRET), "{what} printed the API secret");
        for token in stored_tokens(cluster) {
            assert!(!text.contains(&token), "{what} printed a token:\n{text}");
            let signature = token.rsplit('.').next().expect("a JWT");
            assert!(
                !text.contains(signature),
                "{what} printed a signature:\n{text}"
            );
        }
    }
}

/// Runs the binary with `args` against `cluster`; checks that no credential is in the output.
fn cli(cluster: &Cluster, args: &[&str]) -> Out {
    let out = finish(&mut cluster.command(args));
    assert_no_credentials(cluster, &format!("{args:?}"), &out);
    out
}

fn token(cluster: &Cluster, namespace: &str, name: &str) -> VideoSdkToken {
    let (namespace, name) = (namespace.to_owned(), name.to_owned());
    cluster.with_client(|client| async move {
        Api::<VideoSdkToken>::namespaced(client, &namespace)
            .get(&name)
            .await
            .expect("the token exists")
    })
}

/// Every token in the cluster.
fn all_tokens(cluster: &Cluster) -> Vec<VideoSdkToken> {
    cluster.with_client(|client| async move {
        Api::<VideoSdkToken>::all(client)
            .list(&ListParams::default())
            .await
            .expect("tokens list")
            .items
    })
}

/// `namespace/name` of every token in the cluster, with its renew-now annotation and token id.
fn snapshot(cluster: &Cluster) -> BTreeMap<String, (Option<String>, Option<String>)> {
    all_tokens(cluster)
        .into_iter()
        .map(|t| {
            let key = format!("{}/{}", t.namespace().unwrap(), t.name_any());
            let renew_now = t.annotations().get(RENEW_NOW_ANNOTATION).cloned();
            (key, (renew_now, t.status.and_then(|s| s.token_id)))
        })
        .collect()
}

/// Polls `check` until it holds or [`WAIT`] passes; panics naming `what`.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "not within {WAIT:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn is_ready(token: &VideoSdkToken) -> bool {
    token.status.as_ref().is_some_and(|s| {
        s.token_id.is_some()
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn wait_all_ready(cluster: &Cluster) {
    wait_until("every token Ready", || {
        let tokens = all_tokens(cluster);
        tokens.len() == 6 && tokens.iter().all(is_ready)
    });
}

/// The tokens `renew` said it changed.
fn renewed(out: &Out) -> BTreeSet<String> {
    out.stdout
        .lines()
        .map(|l| {
            l.strip_prefix("Renewal requested for VideoSdkToken ")
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_else(|| panic!("an unexpected line from renew: {l}"))
                .to_owned()
        })
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// Runs `renew args`; checks that it reports exactly `expected`, that the annotation changed on
/// exactly those tokens, and that the operator re-signed each of them (a new token id, and the
/// request recorded as answered) and none of the others.
fn renew_and_check(cluster: &Cluster, args: &[&str], expected: &[&str]) {
    let before = snapshot(cluster);
    let mut all = vec!["renew"];
    all.extend_from_slice(args);
    let out = cli(cluster, &all);
    assert_eq!(out.code, 0, "renew {args:?}: {}", out.stderr);
    let expected = set(expected);
    assert_eq!(renewed(&out), expected, "renew {args:?} reported");
    wait_until(&format!("the operator re-signs {expected:?}"), || {
        expected.iter().all(|key| {
            let (namespace, name) = key.split_once('/').unwrap();
            let t = token(cluster, namespace, name);
            let status = t.status.clone().unwrap_or_default();
            status.renew_now_handled.as_ref() == t.annotations().get(RENEW_NOW_ANNOTATION)
                && status.token_id != before[key].1
        })
    });
    for key in &expected {
        let (namespace, name) = key.split_once('/').unwrap();
        let managers: Vec<String> = token(cluster, namespace, name)
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.manager)
            .collect();
        assert!(
            managers
                .iter()
                .any(|m| m == "videosdk-token-operator-renew"),
            "{key}: managedFields name who asked for the renewal: {managers:?}"
        );
    }
    let after = snapshot(cluster);
    for (key, (renew_now, token_id)) in &before {
        if expected.contains(key) {
            assert_ne!(&after[key].0, renew_now, "{key}: the annotation changed");
        } else {
            assert_eq!(&after[key].0, renew_now, "renew {args:?} changed {key}");
            assert_eq!(&after[key].1, token_id, "renew {args:?} re-signed {key}");
        }
    }
}

#[test]
fn status_shows_a_ready_token_whole_and_renew_resigns_exactly_the_chosen_tokens() {
    let cluster = Cluster::new("status-renew");
    cluster.apply(MORE_TOKENS);
    let (_operator, _logs) = cluster.start_operator();
    wait_all_ready(&cluster);

    let moderator = token(&cluster, "default", "moderator");
    let status = moderator.status.clone().unwrap();
    // The issuance's Event follows its status (posted once the operator is quiet for 1 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let out = loop {
        let out = cli(&cluster, &["status", "moderator"]);
        if out.stdout.contains("Normal   Issued") || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = &out.stdout;
    let renewal = status.renewal_time.as_ref().unwrap().0.to_string();
    let token_id = status.token_id.clone().unwrap();
    for want in [
        "Name: moderator",
        "Namespace: default",
        "Ready: True, Reason: Issued",
        "Issuer: VideoSdkIssuer videosdk",
        "Ready: True, Reason: CredentialsValid",
        "Secret: moderator-token",
        "Owned by this token: yes",
        "[\"allow_join\",\"allow_mod\"]",
        &token_id,
        &format!("Renewal time: {renewal}"),
        "Normal   Issued",
        &format!("Next: The operator re-signs the token at {renewal} (in "),
    ] {
        assert!(text.contains(want), "status lacks {want:?}:\n{text}");
    }
    assert!(
        !text.contains("demo-api-key"),
        "the API key is shown only as its fingerprint:\n{text}"
    );

    let out = cli(
        &cluster,
        &["status", "moderator", "-n", "default", "-o", "json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(json["ready"], true);
    assert_eq!(json["issuer"]["ready"]["status"], "True");
    assert_eq!(json["secret"]["name"], "moderator-token");
    assert_eq!(json["secret"]["token"]["claims"]["jti"], token_id.as_str());
    assert_eq!(
        json["secret"]["token"]["claims"]["permissions"][1],
        "allow_mod"
    );
    assert!(json["secret"]["token"]["claims"].get("apikey").is_none());
    assert_eq!(json["renewalTime"], renewal.as_str());
    assert_eq!(json["next"]["action"], "Renew");
    assert_eq!(json["next"]["at"], renewal.as_str());
    assert_eq!(json["events"][0]["reason"], "Issued");
    let expires_in = json["secret"]["token"]["expiresInSeconds"]
        .as_i64()
        .unwrap();
    assert!((86_000..=86_400).contains(&expires_in), "{expires_in}");

    renew_and_check(&cluster, &["moderator"], &["default/moderator"]);
    renew_and_check(
        &cluster,
        &["-l", "app=web"],
        &["default/web-a", "default/web-b"],
    );
    renew_and_check(
        &cluster,
        &["-l", "app=web", "-A"],
        &["default/web-a", "default/web-b", "other/web-c"],
    );
    renew_and_check(&cluster, &["--all", "-n", "other"], &["other/web-c"]);
    renew_and_check(
        &cluster,
        &["--all"],
        &[
            "default/moderator",
            "default/participant",
            "default/web-a",
            "default/web-b",
            "default/solo",
        ],
    );

    // The renewal shows in status: its Event, the request answered.
    let out = cli(&cluster, &["status", "moderator"]);
    assert!(
        out.stdout.contains("Normal   Renewed") && out.stdout.contains("renew-now"),
        "{}",
        out.stdout
    );
}

#[test]
fn status_of_a_token_that_is_not_ready_says_why_and_when_it_retries() {
    let cluster = Cluster::new("status-not-ready");
    cluster.apply(
        r#"
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: orphan}
spec: {issuerRef: {name: missing}, permissions: [allow_join]}
"#,
    );
    let (_operator, _logs) = cluster.start_operator();
    wait_until("orphan goes Ready=False", || {
        token(&cluster, "default", "orphan")
            .status
            .is_some_and(|s| s.conditions.iter().any(|c| c.status == "False"))
    });
    let out = cli(&cluster, &["status", "orphan"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for want in [
        "Ready: False, Reason: IssuerNotFound",
        "VideoSdkIssuer missing not found",
        "Secret default/orphan not found",
        "Warning  IssuerNotFound",
        "Next: Not Ready (IssuerNotFound): VideoSdkIssuer default/missing does not exist",
        "The operator retries",
    ] {
        assert!(
            out.stdout.contains(want),
            "status lacks {want:?}:\n{}",
            out.stdout
        );
    }
    let out = cli(&cluster, &["status", "orphan", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(json["ready"], false);
    assert_eq!(json["next"]["action"], "Retry");
    assert_eq!(json["conditions"][0]["reason"], "IssuerNotFound");
}

/// Tokens for `status`'s next step: four Ready (one renewed 12 s after issuance) and one whose
/// issuer has no credentials Secret.
const STEP_TOKENS: &str = r#"
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkIssuer
metadata: {name: no-credentials}
spec: {credentialsSecretRef: {name: missing-credentials}}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: step-template}
spec: {issuerRef: {name: videosdk}, permissions: [allow_join], ttl: 1h}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: step-restart}
spec: {issuerRef: {name: videosdk}, permissions: [allow_join], ttl: 1h}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: step-permissions}
spec: {issuerRef: {name: videosdk}, permissions: [allow_join], ttl: 1h}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: step-due}
spec: {issuerRef: {name: videosdk}, permissions: [allow_join], ttl: 1h, renewBefore: 59m48s}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: step-issuer}
spec: {issuerRef: {name: no-credentials}, permissions: [allow_join]}
"#;

/// The edits made while the operator is stopped: a `secretTemplate`, a rollout restart target,
/// a permission.
const STEP_EDITS: &str = r#"
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: step-template}
spec:
  issuerRef: {name: videosdk}
  permissions: [allow_join]
  ttl: 1h
  secretTemplate: {labels: {team: video}}
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: step-restart}
spec:
  issuerRef: {name: videosdk}
  permissions: [allow_join]
  ttl: 1h
  rolloutRestartTargets: [{kind: Deployment, name: web}]
---
apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata: {name: step-permissions}
spec: {issuerRef: {name: videosdk}, permissions: [allow_join, allow_mod], ttl: 1h}
"#;

/// `status` says what the operator does next from the operator's own step on the Secret, and
/// the operator, started again, does exactly that: a `secretTemplate` edit applies the Secret
/// and keeps the token, a `rolloutRestartTargets` edit keeps both, a permissions edit re-signs,
/// a due renewal re-signs, an issuer without credentials is retried.
#[test]
fn status_tells_the_step_the_operator_takes_next_and_the_operator_takes_it() {
    let cluster = Cluster::new("status-next-step");
    cluster.apply(STEP_TOKENS);
    let ready = [
        "step-template",
        "step-restart",
        "step-permissions",
        "step-due",
    ];
    let (operator, _logs) = cluster.start_operator();
    wait_until("the step tokens settle", || {
        ready
            .iter()
            .all(|name| is_ready(&token(&cluster, "default", name)))
            && token(&cluster, "default", "step-issuer")
                .status
                .is_some_and(|s| s.conditions.iter().any(|c| c.status == "False"))
    });
    drop(operator);
    let before: BTreeMap<&str, VideoSdkToken> = ready
        .iter()
        .map(|name| (*name, token(&cluster, "default", name)))
        .collect();
    cluster.apply(STEP_EDITS);
    let due = before["step-due"]
        .status
        .clone()
        .unwrap()
        .renewal_time
        .unwrap()
        .0;
    wait_until("step-due's renewal time passes", || {
        k8s_openapi::jiff::Timestamp::now()
            > due
                .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(1))
                .unwrap()
    });

    let renewal = |name: &str| {
        before[name]
            .status
            .clone()
            .unwrap()
            .renewal_time
            .unwrap()
            .0
            .to_string()
    };
    let changed = "The spec changed (generation 2; the status describes generation 1)";
    let cases = [
        (
            "step-template",
            "UpdateSecret",
            format!(
                "Next: {changed}, not the token's claims: the operator keeps the token and applies its Secret's new labels and annotations at its next reconcile, within seconds; it re-signs the token at {} (in ",
                renewal("step-template")
            ),
        ),
        (
            "step-restart",
            "Renew",
            format!(
                "Next: {changed}, neither the token's claims nor its Secret: the operator keeps both, records the new generation at its next reconcile, within seconds, and re-signs the token at {} (in ",
                renewal("step-restart")
            ),
        ),
        (
            "step-permissions",
            "RenewNow",
            format!(
                "Next: {changed}: the operator re-signs the token at its next reconcile, within seconds."
            ),
        ),
        (
            "step-due",
            "Renew",
            format!("Next: Renewal was due at {} (", renewal("step-due")),
        ),
        (
            "step-issuer",
            "Retry",
            "Next: Not Ready (IssuerNotReady): VideoSdkIssuer default/no-credentials is not ready (SecretNotFound)".to_owned(),
        ),
    ];
    for (name, action, line) in &cases {
        let out = cli(&cluster, &["status", name]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert!(
            out.stdout.contains(line.as_str()),
            "{name}: status lacks {line:?}:\n{}",
            out.stdout
        );
        let out = cli(&cluster, &["status", name, "-o", "json"]);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
        assert_eq!(json["next"]["action"], *action, "{name}: {}", out.stdout);
    }

    // The operator, started again, takes exactly those steps.
    let (_operator, _logs) = cluster.start_operator();
    let token_id = |t: &VideoSdkToken| t.status.clone().unwrap().token_id.unwrap();
    wait_until(
        "the operator catches up with the edits and the due renewal",
        || {
            ready.iter().all(|name| {
                let now = token(&cluster, "default", name);
                let status = now.status.clone().unwrap_or_default();
                let observed = status.conditions.iter().find(|c| c.type_ == "Ready");
                observed.and_then(|c| c.observed_generation) == now.metadata.generation
                    && (*name != "step-due" || token_id(&now) != token_id(&before["step-due"]))
            })
        },
    );
    for (name, resigned) in [
        ("step-template", false),
        ("step-restart", false),
        ("step-permissions", true),
        ("step-due", true),
    ] {
        let now = token(&cluster, "default", name);
        assert_eq!(
            token_id(&now) != token_id(&before[name]),
            resigned,
            "{name}: re-signed"
        );
    }
    let secret = cluster.with_client(|client| async move {
        Api::<Secret>::namespaced(client, "default")
            .get("step-template")
            .await
            .unwrap()
    });
    assert_eq!(
        secret.labels().get("team").map(String::as_str),
        Some("video"),
        "the template's label is applied"
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_a_non_zero_exit() {
    let cluster = Cluster::new("status-bad-input");
    let out = cli(&cluster, &["status", "nope"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("VideoSdkToken default/nope not found: list the tokens with `kubectl get videosdktokens -n default`"),
        "{}",
        out.stderr
    );
    let out = cli(&cluster, &["renew", "nope", "-n", "other"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("VideoSdkToken other/nope not found"),
        "{}",
        out.stderr
    );
    let out = cli(&cluster, &["renew"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("which tokens?") && out.stderr.contains("--all"),
        "{}",
        out.stderr
    );
    let out = cli(&cluster, &["renew", "-l", "app=nothing"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("no VideoSdkToken in namespace default matches -l app=nothing"),
        "{}",
        out.stderr
    );
    let out = cli(&cluster, &["renew", "-l", "a b"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("invalid label selector"),
        "{}",
        out.stderr
    );
    assert_eq!(
        snapshot(&cluster)
            .values()
            .filter(|v| v.0.is_some())
            .count(),
        0
    );
}

#[test]
fn kubectl_runs_status_and_renew_as_the_plugin_kubectl_videosdk() {
    if !crate::have_all(
        "kubectl_runs_status_and_renew_as_the_plugin_kubectl_videosdk",
        &["kubectl"],
    ) {
        return;
    }
    let cluster = Cluster::new("plugin");
    let bin = std::env::temp_dir().join(format!("videosdk-plugin-{}", std::process::id()));
    std::fs::create_dir_all(&bin).unwrap();
    let plugin = bin.join("kubectl-videosdk");
    let _ = std::fs::remove_file(&plugin);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_videosdk-token-operator"), &plugin).unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let kubectl = |args: &[&str]| {
        let out = finish(
            Command::new("kubectl")
                .args(args)
                .env("PATH", &path)
                .env("KUBECONFIG", &cluster.kubeconfig),
        );
        assert_no_credentials(&cluster, &format!("kubectl {args:?}"), &out);
        out
    };
    let (_operator, _logs) = cluster.start_operator();
    wait_until("participant Ready", || {
        is_ready(&token(&cluster, "default", "participant"))
    });

    let out = kubectl(&["plugin", "list"]);
    assert!(
        out.stdout.contains("kubectl-videosdk"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = kubectl(&["videosdk", "status", "participant"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("Name: participant")
            && out.stdout.contains("\"demo-room-1\"")
            && out.stdout.contains("Next: "),
        "{}",
        out.stdout
    );
    let out = kubectl(&["videosdk", "renew", "participant", "-n", "default"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(renewed(&out), set(&["default/participant"]));
    // The plugin's own --kubeconfig, with no $KUBECONFIG nor ~/.kube/config to fall back on.
    let out = finish(
        Command::new("kubectl")
            .args(["videosdk", "status", "participant", "--kubeconfig"])
            .arg(&cluster.kubeconfig)
            .env("PATH", &path)
            .env("HOME", &bin)
            .env_remove("KUBECONFIG"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Name: participant"), "{}", out.stdout);
    let out = kubectl(&[
        "videosdk",
        "status",
        "participant",
        "--kubeconfig",
        "/nonexistent",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot read --kubeconfig /nonexistent"),
        "{}",
        out.stderr
    );
    let out = kubectl(&["videosdk", "status", "nope"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("default/nope not found"),
        "{}",
        out.stderr
    );
    // Help and usage errors name the command as typed.
    let out = kubectl(&["videosdk", "renew", "--help"]);
    assert!(
        out.stdout.contains("Usage: kubectl videosdk renew"),
        "{}",
        out.stdout
    );
    std::fs::remove_dir_all(&bin).unwrap();
}

/// `kubectl get videosdkissuers` and `clustervideosdkissuers` show why an issuer is not Ready
/// (the Ready reason) in the default view, and its message with `-o wide`, as `kubectl get
/// videosdktokens` does; read through kubectl's own Table printing.
#[test]
fn kubectl_get_issuers_shows_the_ready_reason_and_the_message_wide() {
    if !crate::have_all(
        "kubectl_get_issuers_shows_the_ready_reason_and_the_message_wide",
        &["kubectl"],
    ) {
        return;
    }
    let cluster = Cluster::new("issuer-columns");
    cluster.apply(
        "apiVersion: videosdk.live/v1alpha1\nkind: VideoSdkIssuer\nmetadata: {name: broken}\nspec: {credentialsSecretRef: {name: missing}}\n---\n\
         apiVersion: videosdk.live/v1alpha1\nkind: ClusterVideoSdkIssuer\nmetadata: {name: shared-broken}\nspec: {credentialsSecretRef: {name: missing}}\n",
    );
    let (_operator, _logs) = cluster.start_operator();
    let kubectl = |args: &[&str]| {
        let out = finish(
            Command::new("kubectl")
                .args(args)
                .env("KUBECONFIG", &cluster.kubeconfig),
        );
        assert_eq!(out.code, 0, "kubectl {args:?}: {}", out.stderr);
        out.stdout
    };
    // Rows as the words kubectl prints, the header first.
    let table = |args: &[&str]| -> Vec<Vec<String>> {
        kubectl(args)
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect()
    };
    for (kind, name) in [
        ("videosdkissuers", "broken"),
        ("clustervideosdkissuers", "shared-broken"),
    ] {
        wait_until(&format!("{kind} {name} reports SecretNotFound"), || {
            table(&["get", kind, "-n", "default"]).iter().any(|row| {
                row.first().map(String::as_str) == Some(name)
                    && row.get(2).map(String::as_str) == Some("SecretNotFound")
            })
        });
        let rows = table(&["get", kind, "-n", "default"]);
        assert_eq!(rows[0], ["NAME", "READY", "REASON", "AGE"], "{kind}");
        let row = rows.iter().find(|r| r[0] == name).unwrap();
        assert_eq!(row[1], "False", "{kind}: {rows:?}");
        let wide = kubectl(&["get", kind, name, "-n", "default", "-o", "wide"]);
        assert!(
            wide.lines()
                .next()
                .is_some_and(|h| h.contains("REASON") && h.contains("MESSAGE"))
                && wide.contains("missing"),
            "{kind} -o wide shows the message: {wide}"
        );
    }
    // A Ready issuer: its reason too.
    let rows = table(&["get", "videosdkissuers", "videosdk", "-n", "default"]);
    assert_eq!(
        rows[1][..3],
        ["videosdk", "True", "CredentialsValid"],
        "{rows:?}"
    );
}
