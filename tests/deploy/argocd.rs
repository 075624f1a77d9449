//! Argo CD's health checks for the three kinds (`deploy/argocd/resource_customizations/
//! videosdk.live/<Kind>/`, the layout of Argo CD's own `resource_customizations/`): each
//! `health.lua` runs in a Lua 5.1 interpreter (Argo CD's gopher-lua implements Lua 5.1) on every
//! case of its `health_test.yaml`, whose inputs are the statuses the end-to-end test
//! `kstatus` observed (`testdata/`, kept in sync by that test); every fixture is a case; the
//! book's `argocd-cm` snippet holds each check word for word.

use serde::Deserialize;
use std::path::{Path, PathBuf};

const KINDS: [&str; 3] = ["VideoSdkToken", "VideoSdkIssuer", "ClusterVideoSdkIssuer"];

fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/argocd/resource_customizations/videosdk.live")
        .join(kind)
}

/// `health_test.yaml`, as Argo CD's own test harness reads it.
#[derive(Deserialize)]
struct HealthTests {
    tests: Vec<HealthTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthTest {
    health_status: Health,
    input_path: String,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Health {
    status: String,
    message: String,
}

/// Runs `script` as Argo CD does: the object as the global `obj`, the returned table read as
/// the health (`status`, `message`).
fn health(script: &str, object: &serde_json::Value) -> Health {
    use mlua::{LuaSerdeExt, SerializeOptions};
    let lua = mlua::Lua::new();
    let version: String = lua.globals().get("_VERSION").expect("_VERSION");
    assert_eq!(
        version, "Lua 5.1",
        "the language Argo CD's gopher-lua speaks"
    );
    // Argo CD hands the object over as plain tables: nulls are absent fields (nil).
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let obj = lua
        .to_value_with(object, options)
        .expect("the object as Lua");
    lua.globals().set("obj", obj).expect("obj set");
    let table: mlua::Table = lua.load(script).eval().expect("the check runs");
    Health {
        status: table.get("status").expect("a status"),
        message: table.get("message").expect("a message"),
    }
}

#[test]
fn every_check_gives_each_case_its_health() {
    for kind in KINDS {
        let script = std::fs::read_to_string(dir(kind).join("health.lua")).unwrap();
        let tests: HealthTests = serde_yaml::from_str(
            &std::fs::read_to_string(dir(kind).join("health_test.yaml")).unwrap(),
        )
        .unwrap();
        let mut listed: Vec<String> = Vec::new();
        for case in &tests.tests {
            let text = std::fs::read_to_string(dir(kind).join(&case.input_path))
                .unwrap_or_else(|e| panic!("{kind}/{}: {e}", case.input_path));
            let object: serde_json::Value = serde_yaml::from_str(&text).unwrap();
            assert_eq!(object["kind"], kind, "{kind}/{}", case.input_path);
            assert_eq!(
                health(&script, &object),
                case.health_status,
                "{kind}/{}",
                case.input_path
            );
            listed.push(case.input_path.clone());
        }
        let mut fixtures: Vec<String> = std::fs::read_dir(dir(kind).join("testdata"))
            .unwrap()
            .map(|e| format!("testdata/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        fixtures.sort();
        listed.sort();
        assert_eq!(listed, fixtures, "{kind}: every fixture is a case, once");
    }
}

/// The three kinds share one check: their statuses have the same conditions.
#[test]
fn the_kinds_share_one_check() {
    let token = std::fs::read_to_string(dir(KINDS[0]).join("health.lua")).unwrap();
    for kind in &KINDS[1..] {
        assert_eq!(
            std::fs::read_to_string(dir(kind).join("health.lua")).unwrap(),
            token,
            "{kind}"
        );
    }
}

/// A status without conditions, or with an unknown Ready, reads Progressing rather than an
/// error: cases no fixture of the operator's has.
#[test]
fn a_status_the_operator_never_writes_is_progressing() {
    let script = std::fs::read_to_string(dir(KINDS[0]).join("health.lua")).unwrap();
    for status in [
        serde_json::json!(null),
        serde_json::json!({}),
        serde_json::json!({"observedGeneration": 1}),
        serde_json::json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "Unknown", "reason": "R", "message": "m"}]}),
    ] {
        let object = serde_json::json!({"metadata": {"generation": 1}, "status": status});
        assert_eq!(health(&script, &object).status, "Progressing", "{status}");
    }
}

/// A condition another writer left without `reason` or `message` (both are required by the
/// Condition type, but Argo CD reads whatever is stored) still gives a health, not a Lua error.
#[test]
fn a_condition_without_reason_or_message_still_gives_a_health() {
    let script = std::fs::read_to_string(dir(KINDS[0]).join("health.lua")).unwrap();
    for (condition, expected) in [
        (
            serde_json::json!({"type": "Stalled", "status": "True"}),
            "Degraded",
        ),
        (
            serde_json::json!({"type": "Reconciling", "status": "True"}),
            "Progressing",
        ),
        (
            serde_json::json!({"type": "Ready", "status": "False"}),
            "Degraded",
        ),
        (
            serde_json::json!({"type": "Ready", "status": "True"}),
            "Healthy",
        ),
    ] {
        let object = serde_json::json!({
            "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "conditions": [condition]},
        });
        assert_eq!(health(&script, &object).status, expected, "{condition}");
    }
}

/// The book's `argocd-cm` snippet (docs/src/operations/gitops.md) is the shipped checks, word for
/// word.
#[test]
fn the_book_snippet_is_the_shipped_checks() {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/operations/gitops.md"),
    )
    .unwrap();
    for kind in KINDS {
        let script = std::fs::read_to_string(dir(kind).join("health.lua")).unwrap();
        let key = format!("  resource.customizations.health.videosdk.live_{kind}: |\n");
        let start = readme.find(&key).unwrap_or_else(|| {
            panic!("docs/src/operations/gitops.md's argocd-cm snippet has no {kind}")
        }) + key.len();
        let indented: String = script
            .lines()
            .map(|l| {
                if l.is_empty() {
                    "\n".to_owned()
                } else {
                    format!("    {l}\n")
                }
            })
            .collect();
        assert!(
            readme[start..].starts_with(&indented),
            "docs/src/operations/gitops.md's check for {kind} differs from deploy/argocd's"
        );
    }
}
