//! The client examples of `deploy/examples/clients/` (Node's built-in `fetch`, Python's standard
//! library), run as a backend runs them: against the token request endpoint of `dev`, served over
//! HTTPS with a certificate signed by a CA of the test's own (made by `openssl`, as a user makes
//! one), trusted through the CA file the examples document, with a ServiceAccount token of the
//! bundled `backend`. The token each prints must verify with the demo credentials and carry the
//! room, participant, permissions and roles asked for.

use libtest_mimic::Failed;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Generous for two cores shared with other builds: for `dev`'s banner, and then for the
/// endpoint to load its certificate and the issuer to become Ready.
const WAIT: Duration = Duration::from_secs(60);
/// The audience `dev`'s endpoint checks bearer tokens for (`--token-requests-audience`'s
/// default).
const AUDIENCE: &str = "videosdk-token-operator";
/// The room and participant the examples are asked a token for.
const ROOM: &str = "room-42";
const PARTICIPANT: &str = "alice-7";

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `node` is 18 or later: it has the built-in `fetch` the example uses.
pub fn node_has_fetch() -> bool {
    Command::new("node")
        .args(["-e", "process.exit(typeof fetch === 'function' ? 0 : 1)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `participant_token.py`, with the CA file in `VIDEOSDK_CA_FILE`.
pub fn python() -> Result<(), Failed> {
    example("python", |endpoint| {
        let mut command = Command::new("python3");
        command
            .arg(repository().join("deploy/examples/clients/participant_token.py"))
            .env("VIDEOSDK_CA_FILE", &endpoint.ca_file);
        command
    })
}

/// `participant_token.js`, with the CA file in `NODE_EXTRA_CA_CERTS`.
pub fn node() -> Result<(), Failed> {
    example("node", |endpoint| {
        let mut command = Command::new("node");
        command
            .arg(repository().join("deploy/examples/clients/participant_token.js"))
            .env("NODE_EXTRA_CA_CERTS", &endpoint.ca_file);
        command
    })
}

/// Runs the example `command` makes (with the endpoint's URL and bearer token file in the
/// environment, the room and participant as arguments) until it succeeds, at most [`WAIT`], and
/// checks the token it prints.
fn example(name: &str, command: impl Fn(&Endpoint) -> Command) -> Result<(), Failed> {
    let endpoint = Endpoint::start(name)?;
    let deadline = Instant::now() + WAIT;
    let out = loop {
        let out: Output = command(&endpoint)
            .args([ROOM, PARTICIPANT])
            .env("VIDEOSDK_TOKEN_URL", &endpoint.url)
            .env("VIDEOSDK_BEARER_TOKEN_FILE", &endpoint.bearer_token_file)
            .output()
            .map_err(|e| format!("the {name} example did not run: {e}"))?;
        // The endpoint loads its certificate, and the issuer becomes Ready, a moment after the
        // banner: until then a handshake fails or the answer is 503.
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the {name} example failed: {stdout}{}\ndev's log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(endpoint.dir.join("dev.log")).unwrap_or_default()
        )
        .into());
    }
    check(stdout.trim_end_matches('\n'))
}

/// The token verifies with the demo credentials `dev` applied and says what was asked.
fn check(jwt: &str) -> Result<(), Failed> {
    let credentials: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repository().join("deploy/examples/dev/00-credentials.yaml"))
            .map_err(|e| format!("the demo credentials: {e}"))?,
    )
    .map_err(|e| format!("the demo credentials: {e}"))?;
    let secret = credentials["stringData"]["secret"]
        .as_str()
        .ok_or("no secret in the demo credentials")?;
    let claims = videosdk_token_operator::token::verify(jwt, secret, SystemTime::now())
        .map_err(|e| format!("the printed token does not verify: {e} (printed: {jwt:?})"))?;
    let claims = serde_json::to_value(&claims).map_err(|e| e.to_string())?;
    let expected = [
        ("apikey", serde_json::json!("demo-api-key")),
        ("roomId", serde_json::json!(ROOM)),
        ("participantId", serde_json::json!(PARTICIPANT)),
        ("permissions", serde_json::json!(["allow_join"])),
        ("roles", serde_json::json!(["rtc"])),
    ];
    for (claim, value) in expected {
        if claims[claim] != value {
            return Err(format!("{claim} is {}, not {value}: {claims}", claims[claim]).into());
        }
    }
    Ok(())
}

/// `dev` serving token requests over HTTPS, and what a backend's pod would have mounted.
struct Endpoint {
    dev: Child,
    /// The test's files: the CA, the certificate, the manifests, the kubeconfig, dev's log.
    dir: PathBuf,
    /// The token request URL for the namespace `default`.
    url: String,
    /// The CA that signed the endpoint's certificate (the pod's /etc/videosdk-ca/ca.crt).
    ca_file: PathBuf,
    /// A ServiceAccount token of `backend` for [`AUDIENCE`] (the pod's projected token).
    bearer_token_file: PathBuf,
}

impl Endpoint {
    fn start(name: &str) -> Result<Self, Failed> {
        let dir =
            std::env::temp_dir().join(format!("vsto-client-example-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let (cert, key) = certificate(&dir)?;
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "token-requests-tls", "namespace": "default"},
            "stringData": {"tls.crt": cert, "tls.key": key},
        });
        // JSON is YAML.
        let manifest = dir.join("tls.yaml");
        std::fs::write(&manifest, secret.to_string()).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("dev.log")).map_err(|e| e.to_string())?;
        let mut dev = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
            .arg("dev")
            .arg("-f")
            .arg(repository().join("deploy/examples/dev"))
            .arg("-f")
            .arg(&manifest)
            .args(["--token-requests-tls-secret", "default/token-requests-tls"])
            .arg("--kubeconfig")
            .arg(dir.join("kubeconfig"))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("dev did not start: {e}"))?;
        let banner = banner(&mut dev);
        let mut endpoint = Endpoint {
            dev,
            ca_file: dir.join("ca.crt"),
            bearer_token_file: dir.join("token"),
            dir,
            url: String::new(),
        };
        let banner = banner?;
        endpoint.url = banner
            .lines()
            .find_map(|l| l.strip_prefix("token requests: "))
            .and_then(|l| l.split_whitespace().next())
            .filter(|url| url.starts_with("https://"))
            .ok_or_else(|| format!("no HTTPS token request URL in dev's banner:\n{banner}"))?
            .to_owned();
        let bearer = mint(&endpoint.dir.join("kubeconfig"))?;
        std::fs::write(&endpoint.bearer_token_file, bearer).map_err(|e| e.to_string())?;
        Ok(endpoint)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = self.dev.kill();
        let _ = self.dev.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `dev`'s banner, read from its standard output (at most [`WAIT`]).
fn banner(dev: &mut Child) -> Result<String, Failed> {
    let stdout = dev.stdout.take().ok_or("dev's stdout is not piped")?;
    let (banner, _after) = e2e_support::dev_banner::read(stdout, WAIT)?;
    Ok(banner)
}

/// Writes `ca.crt` (a CA of the test's own) and returns a certificate for 127.0.0.1 it signed,
/// with its key (PEM), as the endpoint's TLS Secret holds them.
fn certificate(dir: &Path) -> Result<(String, String), Failed> {
    let openssl = |args: &[&str]| -> Result<(), Failed> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("openssl did not run: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into())
        }
    };
    let p256 = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &p256,
            &["-days", "1", "-subj", "/CN=videosdk-test-ca"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            &["-keyout", "ca.key", "-out", "ca.crt"],
        ]
        .concat(),
    )?;
    openssl(
        &[
            &["req", "-new"][..],
            &p256,
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "tls.key",
                "-out",
                "tls.csr",
            ],
        ]
        .concat(),
    )?;
    // An end-entity certificate for the IP address the examples connect to, with the key
    // identifiers Python's strict verification (3.13+) asks for.
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .map_err(|e| e.to_string())?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "tls.crt",
    ])?;
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string());
    Ok((read("tls.crt")?, read("tls.key")?))
}

/// A ServiceAccount token of the bundled `backend` for [`AUDIENCE`], valid ten minutes, from the
/// API server of the kubeconfig `dev` wrote.
fn mint(kubeconfig: &Path) -> Result<String, Failed> {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    use kube::api::{Api, PostParams};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let config = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
        let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
        let api: Api<ServiceAccount> = Api::namespaced(client, "default");
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![AUDIENCE.to_owned()],
                expiration_seconds: Some(600),
                bound_object_ref: None,
            },
            ..TokenRequest::default()
        };
        let answered = api
            .create_token_request("backend", &PostParams::default(), &request)
            .await
            .map_err(|e| format!("cannot mint a token of ServiceAccount backend: {e}"))?;
        Ok(answered
            .status
            .ok_or("a TokenRequest without status")?
            .token)
    })
}
