//! kubectl against the server: server-side apply of the CRDs and an example, read back as JSON.

use crate::*;
use std::process::Command;
use videosdk_token_operator::api::crds_yaml;

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
    let run = |args: &[&str]| {
        let out = Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let crds = dir.join("crds.yaml");
    let applied = run(&["apply", "--server-side", "-f", crds.to_str().unwrap()]);
    assert!(
        applied.contains("videosdktokens.videosdk.live serverside-applied"),
        "{applied}"
    );
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
    let _ = std::fs::remove_dir_all(&dir);
    t.cleanup().await;
}
