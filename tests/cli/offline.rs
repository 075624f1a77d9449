//! `sign` and `inspect` as a user runs them: flags, manifests, output formats, exit codes, and
//! one clear line for every kind of bad input.

use super::{API_KEY, SECRET, run, run_with, sign_json};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use videosdk_token_operator::api::Permission;
use videosdk_token_operator::token::{self, Credentials, TokenRequest};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn sign_from_flags_makes_the_claims_asked_for() {
    let doc = sign_json(&["--permissions", "allow_join,allow_mod", "--ttl", "1h30m"]);
    let claims = &doc["claims"];
    assert_eq!(claims["apikey"], API_KEY);
    assert_eq!(claims["permissions"], json!(["allow_join", "allow_mod"]));
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 90 * 60);
    assert!(iat.abs_diff(now_secs()) <= 5);
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    assert_eq!(
        claims.as_object().unwrap().len(),
        5,
        "a v1 token has exactly apikey, permissions, iat, exp, jti: {claims}"
    );
    assert!(doc["expiresAt"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn sign_defaults_to_a_24h_lifetime() {
    let doc = sign_json(&["--permissions", "ask_join"]);
    let claims = &doc["claims"];
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        24 * 3600
    );
}

#[test]
fn sign_with_v2_flags_sets_version_2() {
    let doc = sign_json(&[
        "--permissions",
        "allow_join",
        "--roles",
        "rtc,crawler",
        "--room-id",
        "abcd-efgh-ijkl",
        "--participant-id",
        "alice",
    ]);
    let claims = &doc["claims"];
    assert_eq!(claims["version"], 2);
    assert_eq!(claims["roles"], json!(["rtc", "crawler"]));
    assert_eq!(claims["roomId"], "abcd-efgh-ijkl");
    assert_eq!(claims["participantId"], "alice");
}

#[test]
fn sign_from_a_manifest_on_stdin_uses_its_spec() {
    let manifest = "apiVersion: videosdk.live/v1alpha1\nkind: VideoSdkToken\nmetadata: {name: t}\n\
                    spec:\n  issuerRef: {name: i}\n  permissions: [ask_join]\n  ttl: 45m\n  roomId: room-1\n";
    let out = run_with(&["sign", "-f", "-", "-o", "json"], Some(SECRET), manifest);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let claims = &serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["claims"];
    assert_eq!(claims["permissions"], json!(["ask_join"]));
    assert_eq!(claims["roomId"], "room-1");
    assert_eq!(claims["version"], 2);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        45 * 60
    );
}

#[test]
fn sign_from_the_bundled_example_manifest() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples/token.yaml");
    let out = run(&["sign", "-f", example]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim().split('.').count(), 3, "prints one JWT");
}

#[test]
fn secret_file_with_a_trailing_newline_signs_like_the_env_var() {
    let dir = std::env::temp_dir().join(format!("vsto-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let jwt = run_with(
        &[
            "sign",
            "--permissions",
            "allow_join",
            "--secret-file",
            file.to_str().unwrap(),
        ],
        None,
        "",
    );
    assert_eq!(jwt.code, 0, "{}", jwt.stderr);
    let check = run(&["inspect", jwt.stdout.trim()]);
    assert_eq!(
        check.code, 0,
        "the env secret verifies what the file secret signed: {}",
        check.stdout
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn inspect_shows_claims_and_verifies() {
    let jwt = run(&["sign", "--permissions", "allow_join", "--ttl", "2h"]).stdout;
    let out = run_with(&["inspect", "-"], Some(SECRET), &jwt);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("alg=HS256 typ=JWT"), "{}", out.stdout);
    assert!(out.stdout.contains("\"allow_join\""), "{}", out.stdout);
    assert!(
        out.stdout.contains("(expires in 1h59m)") || out.stdout.contains("(expires in 2h)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Signature:   valid"), "{}", out.stdout);

    let json = run(&["inspect", jwt.trim(), "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["signature"], "valid");
    assert_eq!(doc["claims"]["permissions"], json!(["allow_join"]));
}

#[test]
fn inspect_without_a_secret_reads_but_does_not_verify() {
    let jwt = run(&["sign", "--permissions", "allow_join"]).stdout;
    let out = run_with(&["inspect", jwt.trim(), "-o", "json"], None, "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["signature"], "unchecked");
}

#[test]
fn inspect_exits_1_for_a_wrong_secret() {
    let jwt = run(&["sign", "--permissions", "allow_join"]).stdout;
    let out = run_with(&["inspect", jwt.trim()], Some("another-secret"), "");
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("Signature:   INVALID"),
        "{}",
        out.stdout
    );
}

/// A one-hour `allow_join` token signed with the tests' credentials, issued at `at`.
fn signed_at(at: SystemTime) -> String {
    let credentials = Credentials::new(API_KEY, SECRET).unwrap();
    let request = TokenRequest {
        permissions: vec![Permission::AllowJoin],
        roles: vec![],
        room_id: None,
        participant_id: None,
        ttl: Duration::from_secs(3600),
    };
    token::sign(&request, &credentials, at).unwrap().jwt
}

#[test]
fn inspect_exits_1_for_an_expired_token() {
    let old = signed_at(SystemTime::now() - Duration::from_secs(48 * 3600));
    let out = run(&["inspect", &old]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("EXPIRED 47h ago"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Signature:   valid"),
        "an expired token still has a good signature"
    );
}

/// A token issued in the future (iat beyond the 60 s clock-skew allowance) is not valid yet:
/// exit 1, with the reason; within the allowance it is valid.
#[test]
fn inspect_exits_1_for_a_token_issued_in_the_future() {
    let ahead = signed_at(SystemTime::now() + Duration::from_secs(7200));
    let out = run(&["inspect", &ahead]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("NOT YET VALID: the token is not valid yet: its iat is"),
        "{}",
        out.stdout
    );
    let json = run(&["inspect", &ahead, "-o", "json"]);
    assert_eq!(json.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    assert!(doc["notYetValid"].as_str().unwrap().contains("its iat is"));

    let skewed = signed_at(SystemTime::now() + Duration::from_secs(30));
    assert_eq!(run(&["inspect", &skewed]).code, 0);
}

/// Whitespace around the token (what `echo` or a file adds) is stripped, and said so: a Secret
/// holding those bytes is not an exact token.
#[test]
fn inspect_strips_whitespace_around_the_token_and_says_so() {
    let jwt = run(&["sign", "--permissions", "allow_join"]).stdout;
    let jwt = jwt.trim();
    let out = run_with(&["inspect", "-"], Some(SECRET), &format!("  {jwt}\r\n"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "Input:       2 whitespace byte(s) before and 2 after the token were ignored"
        ),
        "{}",
        out.stdout
    );
    // More than the one line end: every byte is counted.
    let out = run_with(
        &["inspect", "-", "-o", "json"],
        Some(SECRET),
        &format!("{jwt}\n\n"),
    );
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ignoredWhitespace"], json!({"before": 0, "after": 2}));
    // A CRLF (a Windows editor's line end) is not a POSIX line end: stored in a Secret from
    // that file, the `\r` would be part of the token.
    let out = run_with(
        &["inspect", "-", "-o", "json"],
        Some(SECRET),
        &format!("{jwt}\r\n"),
    );
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ignoredWhitespace"], json!({"before": 0, "after": 2}));
    let out = run_with(
        &["inspect", "-", "-o", "json"],
        Some(SECRET),
        &format!(" {jwt}\n"),
    );
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ignoredWhitespace"], json!({"before": 1, "after": 1}));
    // A token given as an argument has no line end: a newline in it is whitespace.
    let out = run(&["inspect", &format!("{jwt}\n"), "-o", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ignoredWhitespace"], json!({"before": 0, "after": 1}));
    // The exact token has nothing to say about its input.
    let out = run_with(&["inspect", "-", "-o", "json"], Some(SECRET), jwt);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ignoredWhitespace"], serde_json::Value::Null);
    // Whitespace inside it is bad input, naming the part.
    let (head, tail) = jwt.split_at(20);
    let out = run_with(&["inspect", "-"], Some(SECRET), &format!("{head} {tail}"));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("is not valid base64url"),
        "{}",
        out.stderr
    );
}

/// The one `\n` that ends a text stream (what `sign`, `echo` and `base64 -d` of a line print, the
/// last line of a file) is the stream's line end, not whitespace around the token: the project's
/// own `sign | inspect -` draws no warning, from a pipe, `-f FILE` or a file named as TOKEN.
#[test]
fn a_token_ending_its_stream_with_one_newline_draws_no_warning() {
    let signed = run(&["sign", "--permissions", "allow_join"]).stdout;
    assert!(signed.ends_with('\n') && !signed.ends_with("\n\n"));
    let dir = temp_dir("line-end");
    let file = dir.join("t2.jwt");
    std::fs::write(&file, &signed).unwrap();
    let file = file.to_str().unwrap();
    for args in [
        &["inspect", "-"][..],
        &["inspect", "-f", file],
        &["inspect", file],
    ] {
        let out = run_with(args, Some(SECRET), &signed);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(
            out.stdout.contains("Signature:   valid"),
            "{args:?}: {}",
            out.stdout
        );
        assert!(
            !out.stdout.contains("whitespace") && out.stderr.is_empty(),
            "{args:?} warned: {}{}",
            out.stdout,
            out.stderr
        );
        let mut json = args.to_vec();
        json.extend(["-o", "json"]);
        let out = run_with(&json, Some(SECRET), &signed);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            doc["ignoredWhitespace"],
            serde_json::Value::Null,
            "{args:?}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `inspect FILE` reads the token from the file when the argument is no JWT but a file (as
/// `inspect t2.jwt` after `sign > t2.jwt`); a file that holds no token is named in the error.
#[test]
fn inspect_reads_the_token_from_a_file_named_as_its_argument() {
    let dir = temp_dir("inspect-file");
    let file = dir.join("t2.jwt");
    std::fs::write(&file, run(&["sign", "--permissions", "allow_mod"]).stdout).unwrap();
    let out = run(&["inspect", file.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["signature"], "valid");
    assert_eq!(doc["claims"]["permissions"], json!(["allow_mod"]));
    // Relative to the working directory, as a shell user types it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
        .args(["inspect", "t2.jwt"])
        .current_dir(&dir)
        .env("VIDEOSDK_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let not_a_token = dir.join("notes.txt");
    std::fs::write(&not_a_token, "hello\n").unwrap();
    let out = run(&["inspect", not_a_token.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!(
            "error: {} holds no token: not a JWT: expected three base64url segments separated by dots (header.claims.signature), found 1 segment(s)\n",
            not_a_token.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A fresh directory for one test's files.
fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vsto-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every kind of bad input: exit code 2, one line on stderr naming the problem, no panic.
#[test]
fn bad_input_gives_one_clear_line_and_exit_2() {
    let cases: &[(&[&str], Option<&str>, &str, &str)] = &[
        (
            &[
                "request",
                "--url",
                "http://127.0.0.1:1/apis/videosdk.live/v1alpha1/namespaces/default/tokenrequests",
                "--token-file",
                "/dev/stdin",
                "--namespace",
                "default",
                "--issuer",
                "videosdk",
                "--permissions",
                "allow_join",
            ],
            None,
            "a-bearer-token",
            "has a path; give the scheme, host and port only (such as https://HOST:8443): the command adds /apis/videosdk.live/v1alpha1/namespaces/NAMESPACE/tokenrequests",
        ),
        (
            &["sign", "--permissions", "allow_everything"],
            Some(SECRET),
            "",
            "unknown permission \"allow_everything\"",
        ),
        (
            &[
                "sign",
                "--permissions",
                "allow_join",
                "--participant-id",
                "abc\u{1}def",
            ],
            Some(SECRET),
            "",
            "spec.participantId contains a control character (U+0001) at character 3",
        ),
        (
            &[
                "sign",
                "--permissions",
                "allow_join",
                "--room-id",
                "room\n1",
            ],
            Some(SECRET),
            "",
            "spec.roomId contains a control character (U+000A)",
        ),
        (
            &["sign", "-f", "-"],
            Some(SECRET),
            "apiVersion: videosdk.live/v1alpha1\nkind: VideoSdkToken\nmetadata: {name: t}\nspec: {issuerRef: {name: i}, permissions: [allow_join], tll: 1h}\n",
            "unknown field \"spec.tll\"",
        ),
        (
            &["sign", "--permissions", "allow_join", "--roles", "admin"],
            Some(SECRET),
            "",
            "unknown role \"admin\"",
        ),
        (
            &["sign", "--permissions", "allow_join", "--ttl", "1d"],
            Some(SECRET),
            "",
            "unknown unit \"d\"",
        ),
        (
            &["sign", "--permissions", "allow_join", "--ttl", "-5m"],
            Some(SECRET),
            "",
            "negative",
        ),
        (
            &["sign", "--permissions", "allow_join", "--ttl", "30s"],
            Some(SECRET),
            "",
            "minimum of 1m",
        ),
        (
            &["run", "--min-renew-before", "90s"],
            None,
            "",
            "90s is below 2m, the CRD's floor (the kubelet updates a mounted Secret up to 90s after a re-sign): it may only be raised",
        ),
        (
            &["sign", "--permissions", "allow_join"],
            None,
            "",
            "no VideoSDK API secret",
        ),
        (
            &["sign", "--permissions", "allow_join"],
            Some(" padded "),
            "",
            "whitespace",
        ),
        (
            &[
                "sign",
                "--permissions",
                "allow_join",
                "--secret-file",
                "/nonexistent/secret",
            ],
            None,
            "",
            "cannot read the secret file /nonexistent/secret",
        ),
        (&["sign"], Some(SECRET), "", "--permissions"),
        (
            &["sign", "-f", "-"],
            Some(SECRET),
            "kind: VideoSdkIssuer\n",
            "is a VideoSdkIssuer, not a VideoSdkToken",
        ),
        (
            &["sign", "-f", "-"],
            Some(SECRET),
            "spec: [unclosed\n",
            "not valid YAML",
        ),
        (
            &["sign", "-f", "-"],
            Some(SECRET),
            "kind: VideoSdkToken\nmetadata: {name: t}\nspec:\n  issuerRef: {name: i}\n  permissions: [join]\n",
            "unknown variant `join`",
        ),
        (
            &["sign", "-f", "/nonexistent.yaml"],
            Some(SECRET),
            "",
            "cannot read /nonexistent.yaml",
        ),
        (&["inspect", "not-a-token"], Some(SECRET), "", "not a JWT"),
        // Neither a JWT nor a file: the error says what TOKEN may be.
        (
            &["inspect", "t2.jwt"],
            Some(SECRET),
            "",
            "TOKEN is neither a JWT nor a file: pass the token itself, `-` to read it from standard input, or `-f FILE`",
        ),
        (
            &["inspect", "/"],
            Some(SECRET),
            "",
            "TOKEN is neither a JWT nor a file",
        ),
        (
            &["inspect", "-f", "/nonexistent/t2.jwt"],
            Some(SECRET),
            "",
            "cannot read /nonexistent/t2.jwt: ",
        ),
        (
            &["inspect", "a.b.c"],
            Some(SECRET),
            "",
            "not valid base64url",
        ),
        (&["inspect", "-"], Some(SECRET), "", "not a JWT"),
    ];
    for (args, secret, stdin, expected) in cases {
        let out = run_with(args, *secret, stdin);
        assert_eq!(
            out.code, 2,
            "{args:?} should exit 2; stderr: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(expected),
            "{args:?}: expected {expected:?} in stderr, got: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("panicked"),
            "{args:?} panicked: {}",
            out.stderr
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed to stdout: {}",
            out.stdout
        );
    }
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in ["sign", "inspect", "crd", "status", "renew"] {
        let out = run(&[command, "--help"]);
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.contains("videosdk-token-operator"),
            "{command} --help has no example: {}",
            out.stdout
        );
    }
}

/// `request` against an endpoint that answers 429 (its TokenReview budget or the caller's rate
/// is spent; `Retry-After` says when to come back) exits with the refusal after one request: the
/// Kubernetes client's default retry of 429/503/504 (kube 5: up to 15 times over minutes) would
/// otherwise repeat the call against the very limit that refused it. Here a retry would get a
/// token, so a client that retries passes the refusal by and fails the test.
#[test]
fn request_refused_with_429_is_not_retried() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    let server = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let mut requests = 0;
        while !finished.load(Ordering::SeqCst) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            // Requests on this connection: headers, then the body of Content-Length bytes.
            loop {
                let mut length = 0;
                let mut line = String::new();
                let mut seen = false;
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    seen = true;
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                if !seen {
                    break;
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                requests += 1;
                let answer = if requests == 1 {
                    let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too many token requests: retry after 30s","reason":"TooManyRequests","code":429}"#;
                    format!(
                        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{status}",
                        status.len()
                    )
                } else {
                    let token = r#"{"token":"retried"}"#;
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{token}",
                        token.len()
                    )
                };
                let mut stream = reader.get_ref().try_clone().unwrap();
                stream.write_all(answer.as_bytes()).unwrap();
            }
        }
        requests
    });
    let dir = std::env::temp_dir().join(format!("videosdk-request-429-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bearer = dir.join("token");
    std::fs::write(&bearer, "not-a-real-bearer").unwrap();
    let out = run(&[
        "request",
        "--url",
        &url,
        "--namespace",
        "apps",
        "--token-file",
        bearer.to_str().unwrap(),
        "--issuer",
        "videosdk",
        "--permissions",
        "allow_join",
    ]);
    done.store(true, Ordering::SeqCst);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("429"), "{}", out.stderr);
    assert!(!out.stdout.contains("retried"), "{}", out.stdout);
    assert_eq!(server.join().unwrap(), 1, "requests the endpoint received");
}
