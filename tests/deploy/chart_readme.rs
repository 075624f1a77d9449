//! The chart's own README (`deploy/helm/videosdk-token-operator/README.md`, what Artifact Hub and
//! `helm show readme` show): its values table is generated from `values.yaml`, each value with the
//! comment above it and its default, and checked in sync
//! (`VIDEOSDK_WRITE_CHART_README=1 cargo test --test deploy chart_readme` rewrites it).

use super::values::leaf_paths;
use super::*;

const WRITE: &str = "VIDEOSDK_WRITE_CHART_README";
const BEGIN: &str = "<!-- values: generated from values.yaml by tests/deploy/chart_readme.rs -->";
const END: &str = "<!-- end of values -->";

/// Each value of `values.yaml` that is a row (the leaves, as the install guide's table has them),
/// in file order, with the comment lines just above its key (joined).
fn documented_values(text: &str, rows: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut comment: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() {
            comment.clear();
            continue;
        }
        if let Some(c) = trimmed.strip_prefix('#') {
            comment.push(c.trim().to_owned());
            continue;
        }
        let Some((key, _)) = trimmed.split_once(':') else {
            comment.clear();
            continue;
        };
        if trimmed.starts_with('-') || key.contains(' ') || key.contains('"') {
            comment.clear();
            continue;
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_owned()));
        let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        let path = path.join(".");
        if rows.contains(&path) {
            out.push((path, comment.join(" ")));
        }
        comment.clear();
    }
    out
}

/// The values table, in Markdown.
fn values_table() -> String {
    let text = read(format!("{CHART}/values.yaml"));
    let values = documents(&text, "values.yaml").remove(0);
    let mut rows = Vec::new();
    leaf_paths(&values, "", &mut rows);
    let documented = documented_values(&text, &rows);
    let found: Vec<&String> = documented.iter().map(|(p, _)| p).collect();
    for row in &rows {
        assert!(
            found.contains(&row),
            "values.yaml: {row} not found by the generator"
        );
    }
    let mut table = String::from("| value | default | description |\n|---|---|---|\n");
    for (path, comment) in documented {
        let default = values
            .pointer(&format!("/{}", path.replace('.', "/")))
            .unwrap();
        let default = match default {
            Value::String(s) if s.is_empty() => "`\"\"`".to_owned(),
            other => format!("`{}`", other.to_string().replace('|', "\\|")),
        };
        table.push_str(&format!(
            "| `{path}` | {default} | {} |\n",
            comment.replace('|', "\\|")
        ));
    }
    table
}

#[test]
fn chart_readme_values_table_is_generated_from_values_yaml() {
    let path = root().join(CHART).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap_or_default();
    let (head, rest) = readme
        .split_once(BEGIN)
        .unwrap_or_else(|| panic!("{CHART}/README.md has no {BEGIN}"));
    let (_, tail) = rest
        .split_once(END)
        .unwrap_or_else(|| panic!("{CHART}/README.md has no {END}"));
    let generated = format!("{head}{BEGIN}\n{}{END}{tail}", values_table());
    if std::env::var_os(WRITE).is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    assert!(
        generated == readme,
        "{CHART}/README.md's values table differs from values.yaml; regenerate it with {WRITE}=1 cargo test --test deploy chart_readme"
    );
}

#[test]
fn every_value_is_described_in_values_yaml() {
    let text = read(format!("{CHART}/values.yaml"));
    let values = documents(&text, "values.yaml").remove(0);
    let mut rows = Vec::new();
    leaf_paths(&values, "", &mut rows);
    let undescribed: Vec<String> = documented_values(&text, &rows)
        .into_iter()
        .filter(|(_, comment)| comment.is_empty())
        .map(|(path, _)| path)
        .collect();
    assert!(
        undescribed.is_empty(),
        "values.yaml: say what these are in a comment above each: {undescribed:?}"
    );
}
