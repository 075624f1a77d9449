//! The krew manifest template of the `kubectl videosdk` plugin (`deploy/krew/videosdk.yaml`) and
//! the release steps that fill it (`docs/src/development/release.md`): the plugin's name and executable are the
//! binary's, every platform has its archive, and every placeholder is set by the steps.

use super::*;
use regex::Regex;
use std::collections::BTreeSet;
use videosdk_token_operator::cli::plugin;

const TEMPLATE: &str = "deploy/krew/videosdk.yaml";
const RELEASE: &str = "docs/src/development/release.md";

#[test]
fn the_krew_manifest_installs_the_binary_as_the_plugin_it_names_itself() {
    let template = read(TEMPLATE);
    let release = read(RELEASE);
    let placeholders: BTreeSet<String> = Regex::new(r"\$\{([A-Z0-9_]+)\}")
        .unwrap()
        .captures_iter(&template)
        .map(|c| c[1].to_owned())
        .collect();
    for p in &placeholders {
        assert!(
            release.contains(&format!("{p}=")),
            "{RELEASE} does not set ${{{p}}} of {TEMPLATE}"
        );
    }
    // Filled as envsubst fills it.
    let mut filled = template.clone();
    for p in &placeholders {
        let value = if p == "VERSION" {
            "v0.1.0".to_owned()
        } else {
            format!("filled-{p}")
        };
        filled = filled.replace(&format!("${{{p}}}"), &value);
    }
    let manifest = documents(&filled, TEMPLATE).remove(0);
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(
        format!("kubectl {}", name(&manifest)),
        plugin::INVOCATION,
        "the plugin's name is what the binary calls itself"
    );
    let platforms = manifest["spec"]["platforms"].as_array().expect("platforms");
    assert!(!platforms.is_empty());
    for platform in platforms {
        let labels = &platform["selector"]["matchLabels"];
        let (os, arch) = (
            labels["os"].as_str().unwrap(),
            labels["arch"].as_str().unwrap(),
        );
        assert_eq!(platform["bin"], plugin::EXECUTABLE, "{os}/{arch}");
        let archive = format!("kubectl-videosdk_v0.1.0_{os}_{arch}.tar.gz");
        assert!(
            platform["uri"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{archive}")),
            "{os}/{arch}: {}",
            platform["uri"]
        );
        let from: BTreeSet<&str> = platform["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["from"].as_str().unwrap())
            .collect();
        assert_eq!(
            from,
            BTreeSet::from([plugin::EXECUTABLE, "LICENSE"]),
            "{os}/{arch}"
        );
        // The release steps build that archive.
        assert!(
            release.contains(&format!(":{os}_{arch}")),
            "{RELEASE} builds no archive for {os}/{arch}"
        );
    }
    assert!(
        release.contains("kubectl-videosdk_v${VERSION}_$platform.tar.gz kubectl-videosdk LICENSE")
    );
}
