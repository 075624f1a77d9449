//! The alerts are one file that the book's metrics page shows and the chart's PrometheusRule reads.

use super::*;

#[test]
fn alerts_are_one_file_shown_in_the_book_and_rendered_by_the_chart() {
    let file = read(format!("{CHART}/files/prometheus-alerts.yaml"));
    let rules = documents(&file, "prometheus-alerts.yaml").remove(0);
    let shown = page_between(
        "operations/metrics.md",
        "<!-- alerts: files/prometheus-alerts.yaml -->\n```yaml\n",
        "```",
    )
    .expect("docs/src/operations/metrics.md shows the alerts after <!-- alerts: files/prometheus-alerts.yaml -->");
    assert_eq!(
        documents(&shown, "docs/src/operations/metrics.md's alerts"),
        vec![rules.clone()],
        "docs/src/operations/metrics.md's alerts differ from {CHART}/files/prometheus-alerts.yaml"
    );
    let names: Vec<&str> = rules["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["VideoSdkTokenExpiringSoon", "VideoSdkTokenNotReady"]
    );
    let template = read(format!("{CHART}/templates/prometheusrule.yaml"));
    assert!(template.contains("{{- if .Values.prometheusRule.enabled }}"));
    assert!(template.contains(
        r#"{{- toYaml (.Files.Get "files/prometheus-alerts.yaml" | fromYaml) | nindent 2 }}"#
    ));
}
