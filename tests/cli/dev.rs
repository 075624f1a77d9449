//! `dev` as a new user meets it: every command its banner prints works when pasted into a
//! shell, two instances never share a kubeconfig, and the kubeconfig goes when `dev` stops.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous for two cores shared with other builds.
const WAIT: Duration = Duration::from_secs(60);

/// A running `dev`.
struct Dev {
    child: Child,
    banner: String,
    kubeconfig: PathBuf,
    /// Where its log (standard error) goes.
    log: PathBuf,
    /// The lines it prints on standard output after its banner.
    lines: mpsc::Receiver<String>,
}

/// Starts `dev` with `args` and waits (at most [`WAIT`]) for its banner.
fn start(args: &[&str]) -> Dev {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let log = std::env::temp_dir().join(format!(
        "videosdk-dev-test-{}-{}.log",
        std::process::id(),
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let log_file = std::fs::File::create(&log).expect("the log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
        .arg("dev")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .expect("dev starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (banner, received) =
        e2e_support::dev_banner::read(stdout, WAIT).unwrap_or_else(|e| panic!("{e}"));
    let kubeconfig = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("export KUBECONFIG="))
        .unwrap_or_else(|| panic!("the banner names no kubeconfig:\n{banner}"))
        .trim_matches('\'')
        .into();
    Dev {
        child,
        banner,
        kubeconfig,
        log,
        lines: received,
    }
}

impl Dev {
    /// The commands the banner tells the user to paste.
    fn commands(&self) -> Vec<&str> {
        self.banner
            .lines()
            .filter(|l| l.starts_with("  "))
            .map(str::trim)
            .collect()
    }

    /// Stops `dev` as Ctrl-C does (SIGINT), waits, at most [`WAIT`], for it to exit, and
    /// returns its log.
    fn stop(self) -> String {
        self.stop_with("INT").0
    }

    /// Stops `dev` with `signal` (`INT` as Ctrl-C, `TERM`), waits, at most [`WAIT`], for it to
    /// exit, and returns its log and what it printed on standard output after its banner.
    fn stop_with(mut self, signal: &str) -> (String, String) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for dev") {
                assert!(status.success(), "dev exited with {status}");
                // Its standard output is closed: the reader thread has sent every line.
                let printed: String = self.lines.iter().map(|l| l + "\n").collect();
                let log = std::fs::read_to_string(&self.log).expect("dev's log");
                return (log, printed);
            }
            assert!(
                Instant::now() < deadline,
                "dev did not stop within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Runs `command` until it succeeds or [`WAIT`] has passed; the last run's output. For what
/// `dev` finishes a moment after its banner (the first token, the issuer's readiness).
fn until_success(mut command: impl FnMut() -> std::process::Output) -> std::process::Output {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = command();
        if out.status.success() || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_command_the_banner_prints_works_when_pasted() {
    if !crate::have_all(
        "every_command_the_banner_prints_works_when_pasted",
        &["kubectl", "bash", "curl"],
    ) {
        return;
    }
    let dev = start(&[]);
    let commands = dev.commands();
    assert_eq!(commands.len(), 5, "{}", dev.banner);
    assert!(commands[2].contains("inspect -"), "{}", dev.banner);
    assert!(
        commands[3].starts_with("TOKEN=$(kubectl create token backend"),
        "{}",
        dev.banner
    );
    assert!(commands[4].starts_with("curl "), "{}", dev.banner);
    // Pasted into a shell whose PATH has no videosdk-token-operator (as after `cargo run`).
    // The token is issued a moment after the banner: retried until it is there.
    let script = format!("set -eo pipefail\n{}\n", commands.join("\n"));
    let out = until_success(|| {
        Command::new("bash")
            .args(["-c", &script])
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .expect("bash runs")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the banner's commands failed:\n{script}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("participant"), "{stdout}");
    assert!(
        stdout.contains("allow_join"),
        "inspect printed the claims: {stdout}"
    );
    // The curl's answer: a per-participant token for the bundled ServiceAccount `backend`.
    let granted: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .rfind(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON answer from the curl: {stdout}")),
    )
    .expect("the token request's answer is JSON");
    assert!(
        granted["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("eyJ")),
        "{granted}"
    );
    assert_eq!(
        granted["exp"].as_u64().unwrap() - granted["iat"].as_u64().unwrap(),
        600
    );
    dev.stop();
}

#[test]
fn each_instance_has_its_own_kubeconfig_removed_on_exit() {
    let first = start(&[]);
    let second = start(&[]);
    assert_ne!(first.kubeconfig, second.kubeconfig);
    let (a, b) = (first.kubeconfig.clone(), second.kubeconfig.clone());
    assert!(a.exists() && b.exists());
    let a_server = std::fs::read_to_string(&a).unwrap();
    assert_ne!(a_server, std::fs::read_to_string(&b).unwrap());
    first.stop();
    assert!(!a.exists(), "{} is left after dev stopped", a.display());
    assert!(
        b.exists(),
        "the second instance's kubeconfig went with the first"
    );
    second.stop();
    assert!(!b.exists(), "{} is left after dev stopped", b.display());
}

#[test]
fn an_existing_kubeconfig_is_never_taken_over() {
    let path = std::env::temp_dir().join(format!(
        "videosdk-dev-test-{}.kubeconfig",
        std::process::id()
    ));
    std::fs::write(&path, "mine").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
        .args(["dev", "--kubeconfig"])
        .arg(&path)
        .output()
        .expect("dev runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("already exists") && stderr.contains("--kubeconfig"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn request_gets_a_token_from_the_dev_endpoint_as_a_service_account() {
    let dev = start(&[]);
    let curl = dev
        .commands()
        .into_iter()
        .find(|c| c.starts_with("curl "))
        .unwrap_or_else(|| panic!("no curl in the banner:\n{}", dev.banner))
        .to_owned();
    let url = curl
        .split_whitespace()
        .last()
        .and_then(|u| u.split("/apis/").next())
        .expect("the endpoint's URL")
        .to_owned();
    let request_as = |account: &str, issuer: &str| {
        Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
            .args(["request", "--url", &url, "--service-account", account])
            .args([
                "--issuer",
                issuer,
                "--permissions",
                "allow_join",
                "--roles",
                "rtc",
            ])
            .args(["--room-id", "r1", "--ttl", "5m", "--output", "json"])
            .env("KUBECONFIG", &dev.kubeconfig)
            .output()
            .expect("request runs")
    };
    let request = |issuer: &str| request_as("backend", issuer);
    // The issuer becomes Ready a moment after the banner: retried until it is.
    let out = until_success(|| request("videosdk"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let granted: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        granted["exp"].as_u64().unwrap() - granted["iat"].as_u64().unwrap(),
        300
    );
    // `backend` is granted the issuer `videosdk` only.
    let refused = request("another");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused: 403"), "{stderr}");
    // A ServiceAccount that does not exist: the API server's message, not a debug dump.
    let missing = request_as("nope", "videosdk");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "cannot mint a token of ServiceAccount default/nope (needs create on serviceaccounts/token): serviceaccounts \"nope\" not found (404)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("Status {"), "{stderr}");
    dev.stop();
}

/// Ctrl-C ends `dev` quietly: what watches its API server (the operator, and the token request
/// endpoint with its issuer and Secret watches) stops before the server does, so nothing logs
/// the server's disappearance as a connection error.
#[test]
fn ctrl_c_stops_dev_without_connection_errors() {
    let dev = start(&[]);
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&dev.log)
        .unwrap_or_default()
        .contains("Issued token")
    {
        assert!(
            Instant::now() < deadline,
            "no token issued within {WAIT:?}:\n{}",
            std::fs::read_to_string(&dev.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = dev.stop();
    assert!(
        !log.contains("ERROR") && !log.contains("client error"),
        "{log}"
    );
}

/// `dev --help` says what `dev` does with the token request endpoint: it is on, on a free
/// loopback port (the flag is shared with `run`, where it is off by default).
#[test]
fn dev_help_says_token_requests_are_served_by_default() {
    let out = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
        .args(["dev", "--help"])
        .output()
        .expect("dev --help runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    assert!(
        help.contains("[default: a free loopback port, printed in the banner]"),
        "{help}"
    );
    assert!(!help.contains("[default: off]"), "{help}");
    assert!(
        help.contains("a ServiceAccount granted token requests"),
        "{help}"
    );
}

/// `kubectl wait --for=condition=Ready` on a token, as the README documents it: it returns once
/// the operator issued the token (and at once for a token already Ready).
#[test]
fn kubectl_wait_for_ready_returns_once_the_token_is_issued() {
    if !crate::have_all(
        "kubectl_wait_for_ready_returns_once_the_token_is_issued",
        &["kubectl", "bash"],
    ) {
        return;
    }
    let dev = start(&[]);
    let export = &dev.commands()[0];
    assert!(export.starts_with("export KUBECONFIG="), "{}", dev.banner);
    let script = format!(
        "set -eo pipefail\n{export}\nkubectl wait --for=condition=Ready videosdktoken/participant videosdktoken/moderator --timeout=60s\n\
         kubectl wait --for=condition=Ready videosdkissuer/videosdk --timeout=60s\n"
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl wait failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "videosdktoken.videosdk.live/participant condition met",
        "videosdktoken.videosdk.live/moderator condition met",
        "videosdkissuer.videosdk.live/videosdk condition met",
    ] {
        assert!(stdout.contains(name), "{stdout}");
    }
    dev.stop();
}

/// When `dev` stops (Ctrl-C or SIGTERM) its kubeconfig is gone, and a shell that exported it
/// would send kubectl to `localhost:8080`: its last lines say so and what to unset, and that
/// line, pasted, unsets everything the banner set.
#[test]
fn the_last_lines_of_dev_say_what_to_unset() {
    for signal in ["INT", "TERM"] {
        let dev = start(&[]);
        let kubeconfig = dev.kubeconfig.clone();
        let (_, printed) = dev.stop_with(signal);
        assert!(!kubeconfig.exists(), "{} is left", kubeconfig.display());
        assert!(
            printed.contains(&format!(
                "dev stopped: the kubeconfig {} is removed.",
                kubeconfig.display()
            )),
            "SIG{signal}: {printed}"
        );
        let unset = printed
            .lines()
            .rfind(|l| l.starts_with("  unset "))
            .unwrap_or_else(|| panic!("SIG{signal}: no unset line in:\n{printed}"))
            .trim();
        assert_eq!(unset, "unset KUBECONFIG TOKEN", "SIG{signal}");
        // Pasted after the banner's own lines (exporting the kubeconfig, setting TOKEN), it
        // leaves neither set.
        let script = format!(
            "export KUBECONFIG={}\nTOKEN=x\n{unset}\necho \"${{KUBECONFIG-unset}} ${{TOKEN-unset}}\"\n",
            kubeconfig.display()
        );
        let out = Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "unset unset\n");
    }
}

/// The README's five-minute tour, pasted as written: `dev` started with the flags of its first
/// block, then every command of the others in one shell, then the manifest admission refuses,
/// whose answer must be the one the README quotes. Three things are replaced, so that the test
/// can run beside others and wherever cargo builds: the kubeconfig path and the token request
/// port (the README fixes both), and `$PWD/target/debug` (where `cargo run` puts the binary)
/// by the directory of the binary under test. The book's quick start holds the same tour.
#[test]
fn the_readme_tour_works_when_pasted() {
    if !crate::have_all(
        "the_readme_tour_works_when_pasted",
        &["kubectl", "bash", "curl", "base64"],
    ) {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let tour = readme
        .split_once("## Five-minute tour")
        .and_then(|(_, rest)| rest.split("\n## ").next())
        .expect("the README has a Five-minute tour");
    let book = std::fs::read_to_string(root.join("docs/src/getting-started/quick-start.md"))
        .expect("the book's quick start");
    let blocks: Vec<&str> = tour
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert_eq!(
        blocks.len(),
        4,
        "dev, the commands, a token request, a refusal: {tour}"
    );
    for block in &blocks {
        assert!(
            book.contains(block),
            "the book's quick start lacks the README's\n{block}"
        );
    }
    // A free port for the token request endpoint, and a kubeconfig of this test's own.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let kubeconfig = std::env::temp_dir().join(format!(
        "videosdk-dev-readme-{}.kubeconfig",
        std::process::id()
    ));
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
        .parent()
        .expect("the binary's directory")
        .display()
        .to_string();
    let replace = |text: &str| {
        text.replace(
            "/tmp/videosdk-dev.kubeconfig",
            &kubeconfig.display().to_string(),
        )
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{port}"))
        .replace("$PWD/target/debug", &bin)
    };
    let started = replace(blocks[0]);
    let args: Vec<&str> = started
        .trim()
        .strip_prefix("cargo run -- dev ")
        .expect("the tour starts dev with cargo run")
        .split_whitespace()
        .collect();
    let dev = start(&args);
    assert_eq!(dev.kubeconfig, kubeconfig, "{}", dev.banner);
    // The token is issued a moment after the banner: retried until it is there.
    let script = format!(
        "set -eo pipefail\n{}{}",
        replace(blocks[1]),
        replace(blocks[2])
    );
    let out = until_success(|| {
        Command::new("bash")
            .args(["-c", &script])
            .current_dir(root)
            .output()
            .expect("bash runs")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the tour's commands failed:\n{script}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shown in [
        "participant",
        "Ready: True",
        "allow_join",
        "Renewal requested",
        "\"token\":\"eyJ",
    ] {
        assert!(
            stdout.contains(shown),
            "the tour printed no {shown}: {stdout}"
        );
    }
    // The refusal, as the README quotes it (its lines joined).
    let refused = Command::new("bash")
        .args([
            "-c",
            &format!(
                "{}{}",
                replace(&blocks[1][..blocks[1].find('\n').unwrap() + 1]),
                replace(blocks[3])
            ),
        ])
        .current_dir(root)
        .output()
        .expect("bash runs");
    assert!(!refused.status.success(), "admission took ttl: 1m");
    let quoted = tour
        .split_once("```text\n")
        .and_then(|(_, rest)| rest.split("```").next())
        .expect("the README quotes the refusal");
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let answer = String::from_utf8_lossy(&refused.stderr);
    assert!(
        words(&answer).contains(&words(quoted)),
        "the README quotes\n{quoted}\nkubectl answered\n{answer}"
    );
    dev.stop();
}
