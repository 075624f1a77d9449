//! `crds/` must be exactly what the code generates: it is what users apply, so a change to
//! `src/api/` that is not regenerated would ship a schema that disagrees with the operator.

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
