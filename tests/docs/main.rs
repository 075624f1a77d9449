//! The book (`docs/`, an mdBook) against the code: the references generated from it, and every
//! relative link of the README and the book.
//!
//! - [`api_reference`]: the API reference of the three kinds, generated from the CRDs' schemas
//!   (the same ones `crds/` holds);
//! - [`cli_reference`]: the command-line reference, generated from the clap definitions;
//! - [`links`]: every relative link and `#anchor` of `README.md` and `docs/src/` resolves.
//!
//! A generated page that differs fails with the command that rewrites it, as `crds/` and the
//! troubleshooting table do.

// A test binary exports nothing: its `pub` items are shared between its own modules.
#![allow(unreachable_pub, missing_docs)]

mod api_reference;
// Only the default build has every command (`dev` is the cargo feature `dev`'s), and the page
// documents that build.
#[cfg(feature = "dev")]
mod cli_reference;
mod links;

use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `path`, relative to the repository's root, as text.
fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Holds the text between `begin` and `end` of the page `page` (a path under `docs/src/`) to
/// `generated`: rewrites it when the environment variable `write` is set, else fails naming the
/// command that does.
fn generated_section(page: &str, begin: &str, end: &str, generated: &str, write: &str, test: &str) {
    let path: PathBuf = root().join("docs/src").join(page);
    let text = read(&path);
    let start = text
        .find(begin)
        .unwrap_or_else(|| panic!("docs/src/{page} has no line {begin}"))
        + begin.len();
    let stop = text[start..]
        .find(end)
        .unwrap_or_else(|| panic!("docs/src/{page} has no line {end} after {begin}"))
        + start;
    if std::env::var_os(write).is_some() {
        let new = format!("{}{generated}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, new).unwrap_or_else(|e| panic!("writing docs/src/{page}: {e}"));
        return;
    }
    assert!(
        text[start..stop] == *generated,
        "docs/src/{page} differs from what the code generates; regenerate it with {write}=1 cargo test --test docs {test}"
    );
}
