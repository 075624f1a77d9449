//! kubectl against the server: server-side apply of the CRDs and an example, read back as JSON.

use crate::*;
use e2e_support::operator_crds::crds_yaml;
use std::process::Command;

fn kubectl() -> Option<&'static str> {
    let found = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success());
    found.then_some("kubectl")
}

const EXAMPLE: &str = "apiVersion: videosdk.live/v1alpha1
kind: VideoSdkToken
metadata:
  name: meeting-bot
spec:
  issuerRef:
    name: videosdk
  permissions: [allow_join, allow_mod]
  ttl: 2h
";

// kubectl runs as a blocking child process: the server needs threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_and_get() {
    let Some(kubectl) = kubectl() else {
        println!(
            "SKIPPED kubectl_server_side_apply_and_get: kubectl is not installed on this machine"
        );
        return;
    };
    let t = TestCluster::in_memory("kubectl").await;
    let dir = std::env::temp_dir().join(format!("videosdk-kubectl-{}", t.namespace));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    t.server().unwrap().write_kubeconfig(&kubeconfig).unwrap();
    std::fs::write(dir.join("crds.yaml"), crds_yaml()).unwrap();
    std::fs::write(dir.join("token.yaml"), EXAMPLE).unwrap();
    // (success, stdout, stderr) of kubectl with `args`.
    let kubectl_out = |args: &[&str]| {
        let out = Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            // A deadline on every request: a server that never answers fails the test.
            .arg("--request-timeout=60s")
            .args(args)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let run = |args: &[&str]| {
        let (ok, stdout, stderr) = kubectl_out(args);
        assert!(ok, "kubectl {args:?} failed: {stderr}\n{stdout}");
        stdout
    };
    let crds = dir.join("crds.yaml");
    let applied = run(&["apply", "--server-side", "-f", crds.to_str().unwrap()]);
    assert!(
        applied.contains("videosdktokens.videosdk.live serverside-applied"),
        "{applied}"
    );
    // explain reads the OpenAPI v3 documents: the CRD's descriptions, field by field, and
    // the built-in kinds' from k8s-openapi.
    let explained = run(&["explain", "videosdktoken.spec"]);
    assert!(
        explained.contains("KIND:       VideoSdkToken"),
        "{explained}"
    );
    assert!(
        explained.contains("issuerRef\t<Object> -required-"),
        "{explained}"
    );
    assert!(explained.contains("ttl\t<string>"), "{explained}");
    let explained = run(&["explain", "videosdktoken.spec.ttl"]);
    assert!(explained.contains("FIELD: ttl <string>"), "{explained}");
    assert!(explained.contains("Go duration syntax"), "{explained}");
    let explained = run(&["explain", "videosdktoken.metadata.name"]);
    assert!(explained.contains("FIELD: name <string>"), "{explained}");
    let explained = run(&["explain", "secret.data"]);
    assert!(
        explained.contains("FIELD: data <map[string]string>"),
        "{explained}"
    );
    let explained = run(&["explain", "deployment.spec.template.spec.containers.image"]);
    assert!(explained.contains("FIELD: image <string>"), "{explained}");
    // Discovery is cached by kubectl per server; the CRDs are served at once.
    let token = dir.join("token.yaml");
    let applied = run(&[
        "apply",
        "--server-side",
        "-n",
        &t.namespace,
        "-f",
        token.to_str().unwrap(),
    ]);
    assert!(
        applied.contains("meeting-bot serverside-applied"),
        "{applied}"
    );
    let got: Value = serde_json::from_str(&run(&[
        "get",
        "vst",
        "meeting-bot",
        "-n",
        &t.namespace,
        "-o",
        "json",
        "--show-managed-fields",
    ]))
    .unwrap();
    assert_eq!(
        got["spec"]["permissions"],
        json!(["allow_join", "allow_mod"])
    );
    assert_eq!(got["metadata"]["managedFields"][0]["manager"], "kubectl");
    let crd: Value = serde_json::from_str(&run(&[
        "get",
        "crd",
        "videosdktokens.videosdk.live",
        "-o",
        "json",
    ]))
    .unwrap();
    assert!(
        crd["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    );
    // Without -o, kubectl asks for a Table: the CRD's printer columns.
    let table = run(&["get", "vst", "-n", &t.namespace]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME", "READY", "REASON", "SECRET", "EXPIRES", "RENEWS", "AGE"
        ],
        "{table}"
    );
    // Columns of priority 1 only in the wide view.
    let wide = run(&["get", "vst", "-o", "wide", "-n", &t.namespace]);
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME", "READY", "REASON", "SECRET", "ISSUER", "EXPIRES", "RENEWS", "MESSAGE", "AGE"
        ],
        "{wide}"
    );
    assert!(table.contains("meeting-bot"), "{table}");
    let described = run(&["describe", "vst", "meeting-bot", "-n", &t.namespace]);
    assert!(
        described.contains("Name:         meeting-bot"),
        "{described}"
    );
    assert!(described.contains("Events:"), "{described}");
    let events = run(&["get", "events", "-n", &t.namespace]);
    assert!(events.is_empty(), "{events}");
    let ns = run(&["get", "namespace", &t.namespace]);
    let header: Vec<&str> = ns.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "AGE"], "{ns}");
    assert!(ns.contains("Active"), "{ns}");
    // kubectl's `create` generators send built-in types as protobuf (-v=8 logs the request's
    // Content-Type): the README's install steps, answered in JSON.
    let app = format!("{}-app", t.namespace);
    let (ok, _, log) = kubectl_out(&["create", "namespace", &app, "-v=8"]);
    assert!(ok, "{log}");
    assert!(
        log.contains("Content-Type: application/vnd.kubernetes.protobuf"),
        "kubectl no longer sends protobuf: {log}"
    );
    let created: Value =
        serde_json::from_str(&run(&["get", "namespace", &app, "-o", "json"])).unwrap();
    assert_eq!(created["status"]["phase"], "Active", "{created}");
    let secret = [
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        &app,
        "--from-literal=apiKey=k",
        "--from-literal=secret=s",
    ];
    assert!(run(&secret).contains("secret/creds created"));
    let stored: Value =
        serde_json::from_str(&run(&["get", "secret", "creds", "-n", &app, "-o", "json"])).unwrap();
    assert_eq!(stored["data"], json!({"apiKey": "aw==", "secret": "cw=="}));
    assert_eq!(stored["type"], "Opaque");
    let (ok, _, stderr) = kubectl_out(&secret);
    assert!(!ok);
    assert!(
        stderr.contains(r#"secrets "creds" already exists"#),
        "{stderr}"
    );
    run(&[
        "create",
        "configmap",
        "settings",
        "-n",
        &app,
        "--from-literal=region=eu",
    ]);
    let stored: Value = serde_json::from_str(&run(&[
        "get",
        "configmap",
        "settings",
        "-n",
        &app,
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(stored["data"], json!({"region": "eu"}));
    run(&["delete", "namespace", &app]);
    // A misspelt field (`tll`): kubectl asks for fieldValidation=Strict by default (a 400
    // naming the field), Warn with --validate=warn (accepted, a Warning), Ignore with
    // --validate=false (accepted silently, the field dropped).
    let typo = dir.join("typo.yaml");
    std::fs::write(
        &typo,
        EXAMPLE
            .replace("meeting-bot", "typo")
            .replace("ttl: 2h", "tll: 1h"),
    )
    .unwrap();
    let typo = typo.to_str().unwrap();
    let (ok, _, stderr) = kubectl_out(&["apply", "-n", &t.namespace, "-f", typo]);
    assert!(!ok, "a Strict apply of an unknown field succeeded");
    assert!(
        stderr.contains(r#"strict decoding error: unknown field "spec.tll""#),
        "{stderr}"
    );
    let (ok, _, stderr) =
        kubectl_out(&["create", "--validate=warn", "-n", &t.namespace, "-f", typo]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(r#"Warning: unknown field "spec.tll""#),
        "{stderr}"
    );
    run(&["delete", "vst", "typo", "-n", &t.namespace]);
    let (ok, _, stderr) =
        kubectl_out(&["create", "--validate=false", "-n", &t.namespace, "-f", typo]);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("Warning"), "{stderr}");
    let stored: Value = serde_json::from_str(&run(&[
        "get",
        "vst",
        "typo",
        "-n",
        &t.namespace,
        "-o",
        "json",
    ]))
    .unwrap();
    assert!(stored["spec"].get("tll").is_none(), "{stored}");
    let _ = std::fs::remove_dir_all(&dir);
    t.cleanup().await;
}
