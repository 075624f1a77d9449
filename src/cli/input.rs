//! Small helpers shared by the offline commands: reading a file or stdin, printing times.

use std::io::Read;
use std::path::Path;

/// Reads `path`, or standard input when it is `-`; returns a name for messages and the text.
pub fn read(path: &Path) -> Result<(String, String), String> {
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

/// A Unix time in seconds as RFC 3339 UTC (`2026-11-28T04:30:00Z`); out-of-range values print as
/// the raw number so that a strange token is still shown rather than refused.
pub fn rfc3339(unix_seconds: u64) -> String {
    i64::try_from(unix_seconds)
        .ok()
        .and_then(|s| k8s_openapi::jiff::Timestamp::from_second(s).ok())
        .map_or_else(
            || unix_seconds.to_string(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}
