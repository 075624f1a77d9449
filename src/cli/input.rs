//! Reading a file or standard input, shared by the offline commands.

use std::io::Read;
use std::path::Path;

/// Why the input of `sign -f` or `inspect` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Standard input (`-`) could not be read: it is closed, or not UTF-8 text.
    #[error("cannot read standard input: {0}")]
    Stdin(#[source] std::io::Error),
    /// The file does not exist, is a directory, may not be read, or is not UTF-8 text.
    #[error("cannot read {name}: {source}")]
    File {
        /// The path as given.
        name: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// Reads `path`, or standard input when it is `-`; returns a name for messages and the text.
pub(super) fn read(path: &Path) -> Result<(String, String), Error> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(Error::Stdin)?;
        return Ok(("standard input".to_owned(), text));
    }
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((name, text)),
        Err(source) => Err(Error::File { name, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_cannot_be_read_is_named() {
        let error = read(Path::new("/nonexistent/token")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read /nonexistent/token: "),
            "{error}"
        );
    }
}
