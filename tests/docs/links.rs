//! Every relative link of `README.md`, `SECURITY.md` and the book's pages (`docs/src/**.md`)
//! resolves: the file or directory exists, and a `#anchor` names a heading of the page it points
//! into (its slug as GitHub and mdBook make it). Inline links (`[text](target)`) and reference
//! definitions (`[name]: target`) alike. mdBook checks neither, so a renamed page or heading
//! would otherwise break links silently. `{{#include …}}` paths must exist too.

use regex::Regex;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut pages = vec![
        super::root().join("README.md"),
        super::root().join("SECURITY.md"),
    ];
    markdown_files(&super::root().join("docs/src"), &mut pages);
    assert!(pages.len() > 20, "the book has its pages: {pages:?}");
    let link = Regex::new(r#"\]\(([^)\s]+)(?:\s+"[^"]*")?\)"#).unwrap();
    let definition = Regex::new(r"^ {0,3}\[[^\]]+\]:\s*(\S+)").unwrap();
    let include = Regex::new(r"\{\{#include ([^}\s]+)\}\}").unwrap();
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let name = page
            .strip_prefix(super::root())
            .unwrap()
            .display()
            .to_string();
        for (number, line) in prose_lines(&text) {
            let inline = link.captures_iter(&line).map(|c| c[1].to_owned());
            let defined = definition.captures(&line).map(|c| c[1].to_owned());
            for target in inline.chain(defined) {
                checked += 1;
                if let Err(why) = resolve(page, &target) {
                    broken.push(format!("{name}:{number}: ({target}) {why}"));
                }
            }
        }
        // Includes sit in code blocks, so they are looked for in every line.
        for (number, line) in text.lines().enumerate() {
            for path in include.captures_iter(line).map(|c| c[1].to_owned()) {
                checked += 1;
                let file = path.split(':').next().unwrap_or_default();
                if !page.parent().unwrap().join(file).is_file() {
                    broken.push(format!(
                        "{name}:{}: {{{{#include {path}}}}}: no such file",
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// `SECURITY.md` is read at the repository's root and, included, in the book
/// (`docs/src/security.md`), where a relative link would resolve from `docs/src/`. So its links
/// into the book are reference links (`[text][name]`), and both files define every name it uses,
/// each from its own directory (the definitions themselves are checked above).
#[test]
fn security_md_reference_links_are_defined_at_the_root_and_in_the_book() {
    let used = Regex::new(r"\]\[([^\]]+)\]").unwrap();
    let definition = Regex::new(r"(?m)^ {0,3}\[([^\]]+)\]:").unwrap();
    let security = super::read("SECURITY.md");
    let names: BTreeSet<String> = used
        .captures_iter(&security)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(!names.is_empty(), "SECURITY.md links into the book");
    for page in ["SECURITY.md", "docs/src/security.md"] {
        let defined: BTreeSet<String> = definition
            .captures_iter(&super::read(page))
            .map(|c| c[1].to_owned())
            .collect();
        let missing: Vec<&String> = names.difference(&defined).collect();
        assert!(
            missing.is_empty(),
            "{page} does not define the reference links {missing:?} that SECURITY.md uses"
        );
    }
}

/// A link that goes nowhere is refused: a relative path that does not exist, or an anchor that
/// is not a heading's slug in the page it points into.
#[test]
fn a_broken_link_or_anchor_is_found() {
    let readme = super::root().join("README.md");
    assert!(resolve(&readme, "docs/src/SUMMARY.md").is_ok());
    assert!(resolve(&readme, "docs/src/no-such-page.md").is_err());
    assert!(resolve(&readme, "#no-such-heading").is_err());
    let helm = super::root().join("docs/src/install/helm.md");
    assert!(resolve(&helm, "upgrade.md#upgrade").is_ok());
    assert!(resolve(&helm, "upgrade.md#uninstall").is_err());
    assert!(resolve(&helm, "https://example.com/x#y").is_ok());
    assert_eq!(
        slug("`status` and `renew`, also as a kubectl plugin"),
        "status-and-renew-also-as-a-kubectl-plugin"
    );
    assert_eq!(
        slug("Token requests (per-participant tokens on demand)"),
        "token-requests-per-participant-tokens-on-demand"
    );
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Checks `target`, a link written in `page`.
fn resolve(page: &Path, target: &str) -> Result<(), String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return Ok(());
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().unwrap().join(path)
    };
    if !file.exists() {
        return Err(format!("{} does not exist", file.display()));
    }
    if anchor.is_empty() {
        return Ok(());
    }
    if file.extension().is_none_or(|e| e != "md") {
        return Err("an anchor into a file that is not Markdown".to_owned());
    }
    let slugs = heading_slugs(&std::fs::read_to_string(&file).unwrap());
    if slugs.contains(anchor) {
        Ok(())
    } else {
        Err(format!("no heading #{anchor} in {}", file.display()))
    }
}

/// The lines outside fenced code blocks, numbered from 1, with inline code spans removed.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let code = Regex::new(r"(`+)[^`]*?(`+)").unwrap();
    let mut fenced = false;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            lines.push((i + 1, code.replace_all(line, "").into_owned()));
        }
    }
    lines
}

/// The anchors of a page's headings; a repeated slug gets `-1`, `-2`, … as GitHub and mdBook
/// number them.
fn heading_slugs(text: &str) -> BTreeSet<String> {
    let mut slugs = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(heading) = line.strip_prefix('#').map(|h| h.trim_start_matches('#')) else {
            continue;
        };
        if fenced || !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading.trim());
        let mut candidate = base.clone();
        let mut n = 0;
        while slugs.contains(&candidate) {
            n += 1;
            candidate = format!("{base}-{n}");
        }
        slugs.insert(candidate);
    }
    slugs
}

/// A heading's anchor: its text (a link's label for a link) lowercased, letters, digits, `-`
/// and `_` kept, spaces turned into `-`, everything else dropped (GitHub's rule, and mdBook's
/// `normalize_id`).
fn slug(heading: &str) -> String {
    let label = Regex::new(r"\[([^\]]*)\]\([^)]*\)").unwrap();
    label
        .replace_all(heading, "$1")
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() || c == '-' || c == '_' => {
                Some(c.to_lowercase().next().unwrap())
            }
            c if c.is_whitespace() => Some('-'),
            _ => None,
        })
        .collect()
}
