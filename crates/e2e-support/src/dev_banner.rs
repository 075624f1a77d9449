//! Reading the banner the operator's `dev` command prints on standard output before it runs.

use std::io::{BufRead, BufReader};
use std::process::ChildStdout;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The banner's last line ends with this.
const LAST_LINE: &str = "Ctrl-C stops";

/// Reads `stdout` of a `dev` process until its banner's last line, for at most `wait`; returns
/// the banner and the lines it prints after it (read by a thread of its own, so that `dev` never
/// blocks on a full pipe).
///
/// Errors: no banner within `wait` (the message holds what was printed so far).
pub fn read(
    stdout: ChildStdout,
    wait: Duration,
) -> Result<(String, mpsc::Receiver<String>), String> {
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + wait;
    let mut banner = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .map_err(|e| format!("no banner from dev within {wait:?} ({e}); so far:\n{banner}"))?;
        banner.push_str(&line);
        banner.push('\n');
        if line.contains(LAST_LINE) {
            return Ok((banner, received));
        }
    }
}
