//! kubectl against the server: server-side apply of the CRDs and an example, read back as JSON.

use crate::*;
use e2e_support::operator_crds::{self, crds_yaml};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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

/// kubectl against one test server: a kubeconfig in a directory of its own, removed on drop.
struct Kubectl {
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// `None` (the test then skips) when kubectl is not installed; under CI (`CI` set) that
    /// fails instead: CI has kubectl, and a skip there would hide a test that never runs.
    fn new(t: &TestCluster) -> Option<Kubectl> {
        let found = Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "kubectl is not installed; CI must have it"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!("videosdk-kubectl-{}", t.namespace));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        t.server().unwrap().write_kubeconfig(&kubeconfig).unwrap();
        Some(Kubectl { dir, kubeconfig })
    }

    /// A file of the test's directory, written with `text`; its path.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// kubectl with this server's kubeconfig.
    fn command(&self) -> Command {
        let mut command = Command::new("kubectl");
        command.arg("--kubeconfig").arg(&self.kubeconfig);
        command
    }

    /// (exit code, stdout, stderr) of kubectl with `args`.
    fn status(&self, args: &[&str]) -> (i32, String, String) {
        let out = self
            .command()
            // A deadline on every request: a server that never answers fails the test.
            .arg("--request-timeout=60s")
            .args(args)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// (success, stdout, stderr) of kubectl with `args`.
    fn out(&self, args: &[&str]) -> (bool, String, String) {
        let (code, stdout, stderr) = self.status(args);
        (code == 0, stdout, stderr)
    }

    /// The stdout of kubectl with `args`, which must succeed.
    fn run(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.out(args);
        assert!(ok, "kubectl {args:?} failed: {stderr}\n{stdout}");
        stdout
    }
}

/// A `kubectl get -w` running in the background: its stdout, line by line.
struct Watching {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line printed so far.
    seen: Vec<String>,
}

impl Watching {
    /// Waits (at most 30 s) for a printed line containing `text`; the line.
    fn line_with(&mut self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("kubectl printed no line with {text:?}: {:#?}", self.seen),
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Kubectl {
    /// Starts kubectl with `args` (a `get -w`), its stdout read line by line.
    fn watch(&self, args: &[&str]) -> Watching {
        let mut child = self
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watching {
            child,
            lines,
            seen: Vec::new(),
        }
    }
}

/// The words of a printed line.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The first `n` words of a printed line (fewer where it has fewer).
fn first_words(line: &str, n: usize) -> Vec<&str> {
    line.split_whitespace().take(n).collect()
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// kubectl runs as a blocking child process: the server needs threads of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_and_get() {
    let t = TestCluster::in_memory("kubectl").await;
    let Some(k) = Kubectl::new(&t) else {
        println!(
            "SKIPPED kubectl_server_side_apply_and_get: kubectl is not installed on this machine"
        );
        return;
    };
    let kubectl_out = |args: &[&str]| k.out(args);
    let run = |args: &[&str]| k.run(args);
    let crds = k.file("crds.yaml", &crds_yaml());
    let applied = run(&["apply", "--server-side", "-f", &crds]);
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
    // Every built-in kind served, RBAC and ServiceAccounts included.
    let explained = run(&["explain", "role.rules.verbs"]);
    assert!(explained.contains("FIELD: verbs <[]string>"), "{explained}");
    let explained = run(&["explain", "clusterrolebinding.roleRef"]);
    assert!(
        explained.contains("FIELD: roleRef <RoleRef>"),
        "{explained}"
    );
    let explained = run(&["explain", "serviceaccount.automountServiceAccountToken"]);
    assert!(explained.contains("<boolean>"), "{explained}");
    // The same from OpenAPI v2, which kubectl asks for as gnostic's protobuf alone.
    let (ok, explained, log) = kubectl_out(&[
        "explain",
        "--output",
        "plaintext-openapiv2",
        "videosdktoken.spec",
        "-v=6",
    ]);
    assert!(ok, "{log}");
    assert!(
        log.contains("GET") && log.contains("/openapi/v2") && log.contains("200 OK"),
        "kubectl did not read /openapi/v2: {log}"
    );
    assert!(explained.contains("KIND:     VideoSdkToken"), "{explained}");
    assert!(explained.contains("RESOURCE: spec <Object>"), "{explained}");
    assert!(
        explained.contains("issuerRef\t<Object> -required-"),
        "{explained}"
    );
    assert!(explained.contains("ttl\t<string>"), "{explained}");
    let explained = run(&[
        "explain",
        "--output",
        "plaintext-openapiv2",
        "videosdktoken.spec.ttl",
    ]);
    assert!(explained.contains("FIELD:    ttl <string>"), "{explained}");
    assert!(explained.contains("Go duration syntax"), "{explained}");
    let explained = run(&["explain", "--output", "plaintext-openapiv2", "secret.data"]);
    assert!(
        explained.contains("FIELD:    data <map[string]string>"),
        "{explained}"
    );
    let explained = run(&[
        "explain",
        "--output",
        "plaintext-openapiv2",
        "videosdktoken.metadata.name",
    ]);
    assert!(explained.contains("FIELD:    name <string>"), "{explained}");
    // Discovery is cached by kubectl per server; the CRDs are served at once.
    let token = k.file("token.yaml", EXAMPLE);
    let applied = run(&["apply", "--server-side", "-n", &t.namespace, "-f", &token]);
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
    // Content-Type): the book's install steps, answered in JSON.
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
    let typo = k.file(
        "typo.yaml",
        &EXAMPLE
            .replace("meeting-bot", "typo")
            .replace("ttl: 2h", "tll: 1h"),
    );
    let typo = typo.as_str();
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
    t.cleanup().await;
}

/// The book's check of a token-request grant: `deploy/examples/token-request-grant.yaml`
/// applied, then `kubectl auth can-i ... --as system:serviceaccount:...` (a
/// SelfSubjectAccessReview made as the impersonated ServiceAccount).
const GRANT: &str = include_str!("../../../../deploy/examples/token-request-grant.yaml");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_answers_from_rbac() {
    let t = TestCluster::in_memory("kubectl-can-i").await;
    let Some(k) = Kubectl::new(&t) else {
        println!("SKIPPED kubectl_auth_can_i_answers_from_rbac: kubectl is not installed");
        return;
    };
    let ns = t.namespace.as_str();
    let crds = k.file("crds.yaml", &crds_yaml());
    k.run(&["apply", "--server-side", "-f", &crds]);
    let grant = k.file("grant.yaml", GRANT);
    k.run(&["-n", ns, "apply", "-f", &grant]);
    let backend = format!("system:serviceaccount:{ns}:meeting-backend");
    // Exit code 0 and `yes` when allowed, 1 and `no` when not, as kubectl gives them.
    let can_i = |args: &[&str]| {
        let (code, stdout, stderr) = k.status(&[&["-n", ns, "auth", "can-i"], args].concat());
        assert!(
            !stderr.contains("doesn't have a resource type"),
            "the resource is not discovered: {stderr}"
        );
        (code, stdout.trim().to_owned(), stderr)
    };
    let (code, answer, stderr) = can_i(&["request", "videosdkissuers/videosdk", "--as", &backend]);
    assert_eq!((code, answer.as_str()), (0, "yes"), "{stderr}");
    // kubectl's own remark, as the book says (RBAC takes any verb).
    assert!(
        stderr.contains("verb 'request' is not a known verb"),
        "{stderr}"
    );
    let (code, answer, stderr) = can_i(&["request", "videosdkissuers/other", "--as", &backend]);
    assert_eq!((code, answer.as_str()), (1, "no"), "{stderr}");
    let (code, answer, _) = can_i(&["get", "secrets", "--as", &backend]);
    assert_eq!((code, answer.as_str()), (1, "no"));
    let stranger = format!("system:serviceaccount:{ns}:stranger");
    let (code, answer, _) = can_i(&["request", "videosdkissuers/videosdk", "--as", &stranger]);
    assert_eq!((code, answer.as_str()), (1, "no"));
    // --as-group replaces the ServiceAccount's groups: a Group subject then matches.
    let (code, answer, _) = can_i(&[
        "request",
        "videosdkissuers/videosdk",
        "--as",
        "alice",
        "--as-group",
        "system:serviceaccounts:other",
    ]);
    assert_eq!((code, answer.as_str()), (1, "no"));
    // The administrator (the kubeconfig has no credentials) may do anything.
    let (code, answer, _) = can_i(&["delete", "secrets"]);
    assert_eq!((code, answer.as_str()), (0, "yes"));
    let (code, answer, _) = can_i(&["get", "/healthz"]);
    assert_eq!((code, answer.as_str()), (0, "yes"));

    // --list: the rules bound to the ServiceAccount (a SelfSubjectRulesReview).
    let listed = k.run(&["-n", ns, "auth", "can-i", "--list", "--as", &backend]);
    let line = listed
        .lines()
        .find(|l| l.starts_with("videosdkissuers.videosdk.live"))
        .unwrap_or_else(|| panic!("no rule for videosdkissuers: {listed}"));
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        [
            "videosdkissuers.videosdk.live",
            "[]",
            "[videosdk]",
            "[request]"
        ],
        "{listed}"
    );

    // whoami: the impersonated ServiceAccount's groups, as kube-apiserver adds them.
    let me: Value =
        serde_json::from_str(&k.run(&["auth", "whoami", "--as", &backend, "-o", "json"])).unwrap();
    assert_eq!(me["status"]["userInfo"]["username"], backend.as_str());
    assert_eq!(
        me["status"]["userInfo"]["groups"],
        json!([
            "system:serviceaccounts",
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated"
        ])
    );

    // (A ServiceAccount's own token is not tested with kubectl: client-go sends credentials
    // over TLS only, and this server is plain HTTP. `reviews.rs` sends it.)
    t.cleanup().await;
}

/// kubectl's `create` generators for the built-in kinds served send protobuf; each object is
/// stored as sent (read back with `get -o json`) and takes effect (the Role and RoleBinding
/// answer `auth can-i`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_generators_send_protobuf() {
    let t = TestCluster::in_memory("kubectl-create").await;
    let Some(k) = Kubectl::new(&t) else {
        println!("SKIPPED kubectl_create_generators_send_protobuf: kubectl is not installed");
        return;
    };
    let ns = t.namespace.as_str();
    let get = |args: &[&str]| -> Value {
        serde_json::from_str(&k.run(&[args, &["-o", "json"]].concat())).unwrap()
    };
    let (ok, _, log) = k.out(&["-n", ns, "create", "serviceaccount", "x", "-v=8"]);
    assert!(ok, "{log}");
    assert!(
        log.contains("Content-Type: application/vnd.kubernetes.protobuf"),
        "kubectl no longer sends protobuf: {log}"
    );
    assert_eq!(get(&["-n", ns, "get", "sa", "x"])["metadata"]["name"], "x");
    // A TokenRequest (protobuf too): its audiences and lifetime are the flags'.
    let token = k.run(&[
        "-n",
        ns,
        "create",
        "token",
        "x",
        "--audience=aud",
        "--duration=10m",
    ]);
    let claims = token.trim().split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], json!(["aud"]));
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );
    assert_eq!(claims["sub"], format!("system:serviceaccount:{ns}:x"));

    k.run(&[
        "-n",
        ns,
        "create",
        "role",
        "r",
        "--verb=get,list",
        "--resource=secrets",
        "--resource-name=creds",
    ]);
    assert_eq!(
        get(&["-n", ns, "get", "role", "r"])["rules"],
        json!([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["creds"],
            "verbs": ["get", "list"]}])
    );
    k.run(&[
        "-n",
        ns,
        "create",
        "rolebinding",
        "rb",
        "--role=r",
        &format!("--serviceaccount={ns}:x"),
    ]);
    let rb = get(&["-n", ns, "get", "rolebinding", "rb"]);
    assert_eq!(
        (&rb["roleRef"], &rb["subjects"]),
        (
            &json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}),
            &json!([{"kind": "ServiceAccount", "name": "x", "namespace": ns}])
        )
    );
    let x = format!("system:serviceaccount:{ns}:x");
    let (code, stdout, stderr) = k.status(&[
        "-n",
        ns,
        "auth",
        "can-i",
        "get",
        "secrets/creds",
        "--as",
        &x,
    ]);
    assert_eq!((code, stdout.trim()), (0, "yes"), "{stderr}");

    k.run(&[
        "create",
        "clusterrole",
        "cr",
        "--verb=get",
        "--resource=deployments.apps",
        "--non-resource-url=/healthz",
    ]);
    assert_eq!(
        get(&["get", "clusterrole", "cr"])["rules"],
        json!([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
            {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}])
    );
    k.run(&[
        "create",
        "clusterrolebinding",
        "crb",
        "--clusterrole=cr",
        "--user=alice",
        "--group=devs",
    ]);
    assert_eq!(
        get(&["get", "clusterrolebinding", "crb"])["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"}])
    );
    let (code, stdout, _) = k.status(&[
        "-n",
        ns,
        "auth",
        "can-i",
        "get",
        "deployments.apps",
        "--as",
        "bob",
        "--as-group",
        "devs",
    ]);
    assert_eq!((code, stdout.trim()), (0, "yes"));

    k.run(&[
        "-n",
        ns,
        "create",
        "deployment",
        "d",
        "--image=nginx",
        "--replicas=2",
        "--port=80",
    ]);
    let d = get(&["-n", ns, "get", "deployment", "d"]);
    assert_eq!(d["metadata"]["labels"], json!({"app": "d"}));
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"], json!({"matchLabels": {"app": "d"}}));
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"],
        json!({"app": "d"})
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"],
        json!([{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
            "resources": {}}])
    );
    t.cleanup().await;
}

/// `dev` installs the CRDs through kube-rs (a forced server-side apply, which serde_json writes
/// with `maximum: 99.0`); a user's `kubectl apply --server-side -f crds/` afterwards sends the
/// same numbers as `99`. kube-apiserver compares them by value: no conflict, and both managers
/// own the fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_of_the_crds_dir_after_kube_rs_installed_them() {
    let t = TestCluster::in_memory("kubectl-crds-after-kube-rs").await;
    let Some(k) = Kubectl::new(&t) else {
        println!(
            "SKIPPED kubectl_server_side_apply_of_the_crds_dir_after_kube_rs_installed_them: kubectl is not installed on this machine"
        );
        return;
    };
    let crds: Vec<CustomResourceDefinition> =
        operator_crds::crds().into_iter().map(|(_, c)| c).collect();
    t.apply_crds(&crds).await;
    let (ok, applied, stderr) = k.out(&["apply", "--server-side", "-f", operator_crds::DIR]);
    assert!(
        ok,
        "kubectl apply --server-side -f crds/ failed: {stderr}\n{applied}"
    );
    for crd in &crds {
        let name = crd.metadata.name.as_deref().unwrap();
        assert!(
            applied.contains(&format!("{name} serverside-applied")),
            "{applied}"
        );
    }
    // Both field managers own `.spec.versions`, where the numbers are.
    let got: Value = serde_json::from_str(&k.run(&[
        "get",
        "crd",
        "videosdktokens.videosdk.live",
        "--show-managed-fields",
        "-o",
        "json",
    ]))
    .unwrap();
    let entries = got["metadata"]["managedFields"].as_array().unwrap();
    for manager in ["e2e", "kubectl"] {
        assert!(
            entries
                .iter()
                .any(|e| e["manager"] == manager
                    && e["fieldsV1"]["f:spec"].get("f:versions").is_some()),
            "{manager} does not own .spec.versions: {entries:?}"
        );
    }
    t.cleanup().await;
}

/// `kubectl get -w` asks its watch for Tables too (`Accept: application/json;as=Table;...`):
/// each event's row carries the same columns as the listing, under the one header kubectl
/// printed first (kube-apiserver sends the column definitions with the first event only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_prints_the_server_columns() {
    let t = TestCluster::in_memory("kubectl-get-watch").await;
    let Some(k) = Kubectl::new(&t) else {
        println!(
            "SKIPPED kubectl_get_watch_prints_the_server_columns: kubectl is not installed on this machine"
        );
        return;
    };
    let ns = t.namespace.as_str();
    // Secrets: an empty namespace, so that every row comes from the watch.
    let mut secrets = k.watch(&["get", "secrets", "-w", "-o", "wide", "-n", ns]);
    // kubectl starts its watch after its (empty) listing; a Secret created before that is
    // listed instead, and its update below still comes through the watch.
    k.run(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        ns,
        "--from-literal=a=b",
    ]);
    let added = secrets.line_with("creds");
    assert_eq!(first_words(&added, 3), ["creds", "Opaque", "1"], "{added}");
    k.run(&[
        "patch",
        "secret",
        "creds",
        "-n",
        ns,
        "--type=merge",
        "-p",
        r#"{"stringData":{"c":"d"}}"#,
    ]);
    let modified = secrets.line_with("creds");
    assert_eq!(
        first_words(&modified, 3),
        ["creds", "Opaque", "2"],
        "{modified}"
    );
    assert_eq!(
        secrets
            .seen
            .iter()
            .filter(|l| l.starts_with("NAME"))
            .map(|l| words(l))
            .collect::<Vec<_>>(),
        [["NAME", "TYPE", "DATA", "AGE"]],
        "{:#?}",
        secrets.seen
    );
    drop(secrets);
    // A custom resource in every namespace, with the CRD's wide printer columns.
    let crds = k.file("crds.yaml", &crds_yaml());
    k.run(&["apply", "--server-side", "-f", &crds]);
    let token = k.file("token.yaml", EXAMPLE);
    k.run(&["apply", "--server-side", "-n", ns, "-f", &token]);
    let mut tokens = k.watch(&["get", "vst", "-A", "-w", "-o", "wide"]);
    let listed = tokens.line_with("meeting-bot");
    assert_eq!(
        first_words(&listed, 3),
        [ns, "meeting-bot", "videosdk"],
        "{listed}"
    );
    let status = json!({"status": {
        "secretName": "meeting-bot-token",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Issued",
            "message": "Signed", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    k.run(&[
        "patch",
        "vst",
        "meeting-bot",
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
    let modified = tokens.line_with("meeting-bot");
    assert_eq!(
        first_words(&modified, 7),
        [
            ns,
            "meeting-bot",
            "True",
            "Issued",
            "meeting-bot-token",
            "videosdk",
            "Signed"
        ],
        "{modified}"
    );
    assert_eq!(
        tokens
            .seen
            .iter()
            .filter(|l| l.starts_with("NAMESPACE"))
            .map(|l| words(l))
            .collect::<Vec<_>>(),
        [[
            "NAMESPACE",
            "NAME",
            "READY",
            "REASON",
            "SECRET",
            "ISSUER",
            "EXPIRES",
            "RENEWS",
            "MESSAGE",
            "AGE"
        ]],
        "{:#?}",
        tokens.seen
    );
    drop(tokens);
    t.cleanup().await;
}
