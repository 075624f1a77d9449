//! `crd --json-schema DIR` (schemas for editors and kubeconform) and `completion`.

use super::run;
use std::path::Path;
use std::process::Command;

/// Every YAML document under `dir`, recursively.
fn documents(dir: &Path, out: &mut Vec<(String, serde_json::Value)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            documents(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let value: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
                out.push((path.display().to_string(), value));
            }
        }
    }
}

#[test]
fn json_schemas_accept_the_examples_and_flag_misspelt_fields() {
    let dir = std::env::temp_dir().join(format!("videosdk-json-schema-{}", std::process::id()));
    let out = run(&["crd", "--json-schema", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "clustervideosdkissuer_v1alpha1.json",
            "videosdkissuer_v1alpha1.json",
            "videosdktoken_v1alpha1.json"
        ]
    );
    let validator = |kind: &str| {
        let text =
            std::fs::read_to_string(dir.join(format!("{}_v1alpha1.json", kind.to_lowercase())))
                .unwrap();
        jsonschema::draft7::new(&serde_json::from_str(&text).unwrap()).expect("a draft-07 schema")
    };
    let mut docs = Vec::new();
    documents(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples"),
        &mut docs,
    );
    let mut checked = 0;
    for (file, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if !kind.contains("VideoSdk") {
            continue;
        }
        let errors: Vec<String> = validator(kind)
            .iter_errors(doc)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{file}: {kind}: {errors:?}");
        checked += 1;
    }
    assert!(checked >= 6, "{checked} example resources checked");

    let token = serde_json::json!({
        "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
        "metadata": {"name": "t"},
        "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "1h"},
    });
    assert!(validator("VideoSdkToken").is_valid(&token));
    let mut misspelt = token.clone();
    misspelt["spec"]["permision"] = serde_json::json!(["allow_join"]);
    assert!(
        !validator("VideoSdkToken").is_valid(&misspelt),
        "a misspelt field is flagged"
    );
    let mut bad = token.clone();
    bad["spec"]["permissions"] = serde_json::json!(["allow_everything"]);
    assert!(
        !validator("VideoSdkToken").is_valid(&bad),
        "an unknown permission is flagged"
    );
    let mut wrong_kind = token;
    wrong_kind["kind"] = "VideoSdkIssuer".into();
    assert!(!validator("VideoSdkToken").is_valid(&wrong_kind));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completion_scripts_load_in_their_shells() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef videosdk-token-operator"),
        ("fish", "complete -c videosdk-token-operator"),
    ] {
        let out = run(&["completion", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        for command in ["run", "dev", "crd", "sign", "inspect", "completion"] {
            assert!(out.stdout.contains(command), "{shell} completes {command}");
        }
    }
    // bash itself loads the script and registers the completion.
    if crate::have_all("completion_scripts_load_in_their_shells", &["bash"]) {
        let script = run(&["completion", "bash"]).stdout;
        let out = Command::new("bash")
            .args([
                "-c",
                &format!("{script}\ncomplete -p videosdk-token-operator"),
            ])
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("videosdk-token-operator"));
    }
    let bad = run(&["completion", "tcsh"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("tcsh"), "{}", bad.stderr);
}

/// `completion bash | head -3`: a reader that stops early ends the command quietly (it panicked
/// with a broken pipe before).
#[test]
fn completion_to_a_reader_that_stops_early_exits_cleanly() {
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                // The reader is gone before the script is written: the first write fails.
                "set -o pipefail; {{ sleep 0.3; exec '{}' completion bash; }} | true",
                env!("CARGO_BIN_EXE_videosdk-token-operator")
            ),
        ])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
