//! Reading a file or standard input, shared by the offline commands.

use std::io::Read;
use std::path::Path;

/// Reads `path`, or standard input when it is `-`; returns a name for messages and the text.
pub(super) fn read(path: &Path) -> Result<(String, String), String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(("standard input".to_owned(), text));
    }
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    Ok((name, text))
}
