//! `inspect`: shows what a token says and whether it is still good.

use super::credentials::{self, CredentialArgs};
use super::input;
use crate::token::{self, DecodeError, DecodedToken, VerifyError, format_human};
use clap::{Args, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Show a VideoSDK token's header, claims, issue time and expiry, and verify it.
///
/// TOKEN is the token itself, or a file holding it (when it is not a JWT); '-' reads stdin.
/// The signature is checked when the secret is available ($VIDEOSDK_SECRET or --secret-file).
/// Whitespace around the token is ignored, and said so; the one newline that ends stdin or a
/// file (as `sign` prints it) is the line's end, not whitespace around the token.
/// Exit codes: 0 the token is valid (not expired, not issued in the future beyond 60s of clock
/// skew, and the signature matches when checked); 1 it is expired, not yet valid, or its
/// signature does not match; 2 the input is not a token.
///
/// Examples:
///   videosdk-token-operator inspect eyJhbGciOi...
///   videosdk-token-operator sign --permissions allow_join > t2.jwt && videosdk-token-operator inspect t2.jwt
///   kubectl get secret my-token -o jsonpath='{.data.token}' | base64 -d | videosdk-token-operator inspect -
///   videosdk-token-operator inspect -f /var/run/secrets/videosdk/token --secret-file ./secret -o json
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct InspectArgs {
    /// The token, or a file holding it; '-' (or nothing) reads it from stdin.
    #[arg(value_name = "TOKEN", conflicts_with = "file")]
    pub(crate) token: Option<String>,
    /// Read the token from this file, such as a mounted Secret key.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Where the API key and secret come from.
    #[command(flatten)]
    pub(crate) credentials: CredentialArgs,
    /// What to print.
    #[arg(short, long, value_enum, default_value_t = InspectOutput::Text)]
    pub(crate) output: InspectOutput,
}

/// Why `inspect` could not judge the token (exit code 2; an expired or forged token is no
/// error, but exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file or standard input cannot be read.
    #[error(transparent)]
    Input(#[from] input::Error),
    /// `--secret-file` or `$VIDEOSDK_SECRET` cannot be read.
    #[error(transparent)]
    Credentials(#[from] credentials::Error),
    /// The input is not a JWT, or its header or claims are not a VideoSDK token's.
    #[error(transparent)]
    NotAToken(#[from] DecodeError),
    /// The file read (`-f FILE`, or a file named as TOKEN) holds no token.
    #[error("{name} holds no token: {source}")]
    NotATokenInFile {
        /// The path as given.
        name: String,
        /// What is wrong with its content.
        source: DecodeError,
    },
    /// TOKEN is not three dot-separated segments, and no file of that name exists: what TOKEN
    /// may be. The argument is not repeated (it may be a mangled token).
    #[error(
        "TOKEN is neither a JWT nor a file: pass the token itself, `-` to read it from standard input, or `-f FILE` ({0})"
    )]
    NeitherTokenNorFile(#[source] DecodeError),
}

/// Output formats of `inspect`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InspectOutput {
    /// Lines for people.
    Text,
    /// One JSON document for scripts.
    Json,
}

/// What the signature check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No secret was given.
    Unchecked,
    /// It matches the secret.
    Valid,
    /// It does not (with the reason).
    Invalid(String),
}

/// Everything `inspect` reports about one token.
#[derive(Debug, Clone)]
pub struct Report {
    /// The header and claims.
    pub decoded: DecodedToken,
    /// What the signature check found.
    pub signature: Signature,
    /// Seconds until expiry; negative once expired.
    pub expires_in: i64,
    /// Seconds since issuance.
    pub issued_ago: i64,
    /// Why the token is not valid yet (`iat` or `nbf` beyond the allowed clock skew), if so.
    pub(crate) not_yet_valid: Option<String>,
    /// Whitespace bytes (before, after) that were around the token in the input and were
    /// ignored; `None` when the input was exactly the token.
    pub(crate) ignored_whitespace: Option<(usize, usize)>,
}

impl Report {
    /// Valid means: not expired, not issued in the future (beyond [`token::CLOCK_SKEW`]), and
    /// the signature matches when it was checked.
    pub fn is_valid(&self) -> bool {
        self.expires_in > 0
            && self.not_yet_valid.is_none()
            && !matches!(self.signature, Signature::Invalid(_))
    }
}

/// Reads and checks the token in `input` as of `now`; `secret` enables the signature check.
/// Whitespace around the token (a newline from `echo`, a file's last line) is ignored and
/// reported in [`Report::ignored_whitespace`]. Errors are bad input (not a token).
pub fn inspect(input: &str, secret: Option<&str>, now: SystemTime) -> Result<Report, DecodeError> {
    let jwt = input.trim();
    let ignored_whitespace = (jwt.len() != input.len()).then(|| {
        let leading = input.len() - input.trim_start().len();
        (leading, input.len() - jwt.len() - leading)
    });
    let decoded = token::decode_unverified(jwt)?;
    let signature = match secret {
        None => Signature::Unchecked,
        Some(secret) => match token::verify(jwt, secret, now) {
            Ok(_) | Err(VerifyError::Expired { .. } | VerifyError::NotYetValid { .. }) => {
                Signature::Valid
            }
            Err(e) => Signature::Invalid(e.to_string()),
        },
    };
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let not_yet_valid = token::not_yet_valid(&decoded.claims, now).map(|e| e.to_string());
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let seconds = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    Ok(Report {
        expires_in: seconds(decoded.claims.exp).saturating_sub(now),
        issued_ago: now.saturating_sub(seconds(decoded.claims.iat)),
        decoded,
        signature,
        not_yet_valid,
        ignored_whitespace,
    })
}

/// "in 23h59m" / "3m ago" for a signed number of seconds from now.
pub(super) fn relative(seconds_from_now: i64) -> String {
    let human = format_human(Duration::from_secs(seconds_from_now.unsigned_abs()));
    if seconds_from_now > 0 {
        format!("in {human}")
    } else {
        format!("{human} ago")
    }
}

/// The report as lines for people.
pub(crate) fn render_text(report: &Report) -> String {
    let claims = &report.decoded.claims;
    let header = &report.decoded.header;
    let mut out = String::new();
    if let Some((before, after)) = report.ignored_whitespace {
        out.push_str(&format!(
            "Input:       {before} whitespace byte(s) before and {after} after the token were ignored; stored that way (in a Secret) it is not an exact token, and the operator re-signs it\n"
        ));
    }
    out.push_str(&format!(
        "Header:      alg={} typ={}\n",
        header.alg,
        header.typ.as_deref().unwrap_or("(none)")
    ));
    let claims_json = serde_json::to_value(claims).expect("claims serialise");
    out.push_str("Claims:\n");
    for (name, value) in claims_json.as_object().into_iter().flatten() {
        out.push_str(&format!("  {name:<14} {value}\n"));
    }
    out.push_str(&format!(
        "Issued at:   {} ({})\n",
        crate::time::rfc3339(claims.iat),
        relative(-report.issued_ago)
    ));
    if let Some(why) = &report.not_yet_valid {
        out.push_str(&format!("Valid from:  NOT YET VALID: {why}\n"));
    }
    let expiry = if report.expires_in > 0 {
        format!("expires {}", relative(report.expires_in))
    } else {
        format!("EXPIRED {}", relative(report.expires_in))
    };
    out.push_str(&format!(
        "Expires at:  {} ({expiry})\n",
        crate::time::rfc3339(claims.exp)
    ));
    out.push_str(&match &report.signature {
        Signature::Unchecked => {
            "Signature:   not checked (set VIDEOSDK_SECRET or pass --secret-file to verify)\n"
                .to_owned()
        }
        Signature::Valid => "Signature:   valid (HS256)\n".to_owned(),
        Signature::Invalid(why) => format!("Signature:   INVALID: {why}\n"),
    });
    out
}

/// The report as one JSON document.
pub(crate) fn render_json(report: &Report) -> serde_json::Value {
    let claims = &report.decoded.claims;
    let (signature, signature_error) = match &report.signature {
        Signature::Unchecked => ("unchecked", None),
        Signature::Valid => ("valid", None),
        Signature::Invalid(why) => ("invalid", Some(why.clone())),
    };
    json!({
        "valid": report.is_valid(),
        "header": {"alg": report.decoded.header.alg, "typ": report.decoded.header.typ},
        "claims": claims,
        "issuedAt": crate::time::rfc3339(claims.iat),
        "expiresAt": crate::time::rfc3339(claims.exp),
        "expired": report.expires_in <= 0,
        "expiresInSeconds": report.expires_in,
        "signature": signature,
        "signatureError": signature_error,
        "notYetValid": report.not_yet_valid,
        "ignoredWhitespace": report.ignored_whitespace.map(|(before, after)| json!({"before": before, "after": after})),
    })
}

/// Where the token comes from.
enum Source<'a> {
    /// Standard input (`-`, or no TOKEN).
    Stdin,
    /// A file (`-f FILE`, or TOKEN naming a file).
    File(&'a Path),
    /// The TOKEN argument itself.
    Argument(&'a str),
}

impl<'a> Source<'a> {
    /// TOKEN is the token when it decodes as one (whitespace around it aside), else a file when
    /// one of that name exists (`inspect t2.jwt`), else taken as a token, to be refused.
    fn of(args: &'a InspectArgs) -> Self {
        match (&args.file, args.token.as_deref()) {
            (Some(path), _) => Source::File(path),
            (None, None | Some("-")) => Source::Stdin,
            (None, Some(token)) => {
                let path = Path::new(token);
                if token::decode_unverified(token.trim()).is_err() && path.is_file() {
                    Source::File(path)
                } else {
                    Source::Argument(token)
                }
            }
        }
    }
}

/// `text` without the one `\n` that ends it, when that is the only whitespace around the token:
/// a text stream's last line ends so (POSIX.1-2017, 3.206 "Line"; what `sign`, `echo` and a
/// file's last line leave). Anything more (`\r\n`, a blank line, spaces) is kept whole, for
/// [`inspect`] to count every byte: stored that way in a Secret it is not an exact token.
fn without_line_end(text: String) -> String {
    match text.strip_suffix('\n') {
        Some(line) if line.trim() == line => line.to_owned(),
        _ => text,
    }
}

/// Runs the command; `Ok(true)` when the token is valid.
pub fn run(args: &InspectArgs) -> Result<bool, Error> {
    let source = Source::of(args);
    let text = match source {
        Source::Stdin => without_line_end(input::read(Path::new("-"))?.1),
        Source::File(path) => without_line_end(input::read(path)?.1),
        Source::Argument(token) => token.to_owned(),
    };
    let secret = args.credentials.secret()?;
    let report =
        inspect(&text, secret.as_deref(), SystemTime::now()).map_err(|e| match source {
            Source::Stdin => Error::NotAToken(e),
            Source::File(path) => Error::NotATokenInFile {
                name: path.display().to_string(),
                source: e,
            },
            // Not even three segments: most likely a file name mistyped, or a file that is gone.
            Source::Argument(_) if matches!(e, DecodeError::NotAJwt { .. }) => {
                Error::NeitherTokenNorFile(e)
            }
            Source::Argument(_) => Error::NotAToken(e),
        })?;
    match args.output {
        InspectOutput::Text => print!("{}", render_text(&report)),
        InspectOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render_json(&report)).expect("JSON values serialise")
        ),
    }
    Ok(report.is_valid())
}

#[cfg(test)]
mod tests {
    use super::without_line_end;

    #[test]
    fn only_a_lone_newline_is_a_line_end() {
        for (text, expected) in [
            ("a.b.c\n", "a.b.c"),
            ("a.b.c", "a.b.c"),
            ("a.b.c\n\n", "a.b.c\n\n"),
            ("a.b.c\r\n", "a.b.c\r\n"),
            ("a.b.c \n", "a.b.c \n"),
            (" a.b.c\n", " a.b.c\n"),
            ("\n", ""),
        ] {
            assert_eq!(without_line_end(text.to_owned()), expected, "{text:?}");
        }
    }
}
