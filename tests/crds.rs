//! `crds/` must be exactly what the code generates: it is what users apply, so a change to
//! `src/api/` that is not regenerated would ship a schema that disagrees with the operator.

// A test or benchmark binary exports nothing: its `pub` items are shared between its own
// modules, and are not the crate's public API that `missing_docs` is about.
#![allow(unreachable_pub, missing_docs)]

use std::path::Path;
use std::process::Command;
use videosdk_token_operator::api;

const REGENERATE: &str = "regenerate with: cargo run -- crd --output-dir crds";

#[test]
fn crds_directory_matches_the_generated_crds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let mut expected_files = Vec::new();
    for (file, crd) in api::crds() {
        expected_files.push(file.to_owned());
        let on_disk = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("crds/{file} is missing ({e}); {REGENERATE}"));
        assert!(
            on_disk == api::crd_yaml(&crd),
            "crds/{file} differs from the CRD generated from src/api/; {REGENERATE}"
        );
    }
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .expect("crds/ exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    present.sort();
    expected_files.sort();
    assert_eq!(
        present, expected_files,
        "crds/ holds files the code no longer generates; {REGENERATE}"
    );
}

#[test]
fn crd_command_prints_every_crd_as_one_yaml_stream() {
    let out = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
        .arg("crd")
        .output()
        .expect("binary runs");
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let names: Vec<String> = stdout
        .split("---\n")
        .filter(|doc| !doc.trim().is_empty())
        .map(|doc| {
            let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
                serde_yaml::from_str(doc).expect("each document is a CRD");
            crd.metadata.name.expect("named")
        })
        .collect();
    assert_eq!(
        names,
        [
            "videosdktokens.videosdk.live",
            "videosdkissuers.videosdk.live",
            "clustervideosdkissuers.videosdk.live"
        ]
    );
}

/// `kubectl get vst` says why a token is not Ready (the Ready condition's reason); `-o wide`
/// adds the issuer and the full message (priority 1), as cert-manager's Certificate does.
#[test]
fn token_printer_columns_show_why_a_token_is_not_ready() {
    let (_, crd) = api::crds()
        .into_iter()
        .find(|(file, _)| *file == "videosdktokens.yaml")
        .expect("the token CRD");
    let columns: Vec<(String, String, i32)> = crd.spec.versions[0]
        .additional_printer_columns
        .as_ref()
        .expect("printer columns")
        .iter()
        .map(|c| (c.name.clone(), c.json_path.clone(), c.priority.unwrap_or(0)))
        .collect();
    let ready = |field: &str| format!(".status.conditions[?(@.type==\"Ready\")].{field}");
    assert_eq!(
        columns,
        [
            ("Ready".to_owned(), ready("status"), 0),
            ("Reason".to_owned(), ready("reason"), 0),
            ("Secret".to_owned(), ".status.secretName".to_owned(), 0),
            ("Issuer".to_owned(), ".spec.issuerRef.name".to_owned(), 1),
            ("Expires".to_owned(), ".status.notAfter".to_owned(), 0),
            ("Renews".to_owned(), ".status.renewalTime".to_owned(), 0),
            ("Message".to_owned(), ready("message"), 1),
            (
                "Age".to_owned(),
                ".metadata.creationTimestamp".to_owned(),
                0
            ),
        ]
    );
}

/// The end-to-end tests skip, on an older server, what needs the CRDs from the release the
/// operator says it needs: the two agree, so no test is skipped where the operator is supported
/// nor run where it is not.
#[test]
fn end_to_end_tests_require_the_oldest_release_the_operator_supports() {
    use e2e_support::operator_crds::CRDS_NEED;
    use videosdk_token_operator::cli::server_version::OLDEST_SUPPORTED;
    assert_eq!(CRDS_NEED.since, OLDEST_SUPPORTED);
    assert!(CRDS_NEED.except.is_empty());
}
