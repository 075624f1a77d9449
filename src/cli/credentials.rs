//! Where the offline commands find the VideoSDK API key and secret.
//!
//! The secret is never accepted as a flag value: it would show in the process list and in shell
//! history. It comes from `VIDEOSDK_SECRET` or from a file (`--secret-file`), the way a
//! Kubernetes Secret is mounted into a pod.

use crate::token::{self, Credentials};
use clap::Args;
use std::path::PathBuf;

/// Environment variable holding the API secret.
pub(crate) const SECRET_ENV: &str = "VIDEOSDK_SECRET";

/// Why the API key or secret could not be had. Messages never hold the secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--secret-file` does not exist, may not be read, or is not UTF-8 text.
    #[error("cannot read the secret file {}: {source}", path.display())]
    SecretFile {
        /// The file given.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// `$VIDEOSDK_SECRET` is set but is not UTF-8 text.
    #[error("${} is not valid UTF-8", SECRET_ENV)]
    SecretNotUnicode,
    /// Signing needs an API key, and neither `--api-key` nor `$VIDEOSDK_API_KEY` gives one.
    #[error("no VideoSDK API key: set VIDEOSDK_API_KEY or pass --api-key")]
    NoApiKey,
    /// Signing needs the API secret, and neither `--secret-file` nor `$VIDEOSDK_SECRET` gives it.
    #[error("no VideoSDK API secret: set {} or pass --secret-file", SECRET_ENV)]
    NoSecret,
    /// The key or secret is empty or has whitespace around it.
    #[error(transparent)]
    Invalid(#[from] token::CredentialsError),
}

/// Flags naming the credentials (shared by `sign` and `inspect`).
#[derive(Args, Debug, Clone)]
pub(crate) struct CredentialArgs {
    /// VideoSDK API key (default: $VIDEOSDK_API_KEY).
    #[arg(long, env = "VIDEOSDK_API_KEY", value_name = "KEY")]
    pub(crate) api_key: Option<String>,
    /// File holding the VideoSDK API secret, such as a mounted Secret key (default:
    /// $VIDEOSDK_SECRET). One trailing newline is ignored, so `echo secret > file` works.
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,
}

impl CredentialArgs {
    /// The API secret, from `--secret-file` or else `$VIDEOSDK_SECRET`; `None` when neither is set.
    pub(crate) fn secret(&self) -> Result<Option<String>, Error> {
        if let Some(path) = &self.secret_file {
            let text = std::fs::read_to_string(path).map_err(|source| Error::SecretFile {
                path: path.clone(),
                source,
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            return Ok(Some(text.to_owned()));
        }
        match std::env::var(SECRET_ENV) {
            Ok(secret) => Ok(Some(secret)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::SecretNotUnicode),
        }
    }

    /// Both the API key and the secret, checked, as signing needs them.
    pub(crate) fn credentials(&self) -> Result<Credentials, Error> {
        let api_key = self.api_key.clone().ok_or(Error::NoApiKey)?;
        let secret = self.secret()?.ok_or(Error::NoSecret)?;
        Ok(Credentials::new(api_key, secret)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_say_where_to_give_them() {
        let args = |api_key: Option<&str>, secret_file: Option<&str>| CredentialArgs {
            api_key: api_key.map(str::to_owned),
            secret_file: secret_file.map(PathBuf::from),
        };
        let error = |args: CredentialArgs| args.credentials().unwrap_err().to_string();
        assert_eq!(
            error(args(None, Some("/nonexistent"))),
            "no VideoSDK API key: set VIDEOSDK_API_KEY or pass --api-key"
        );
        assert!(
            error(args(Some("key"), Some("/nonexistent/secret")))
                .starts_with("cannot read the secret file /nonexistent/secret: "),
        );
        let empty =
            std::env::temp_dir().join(format!("videosdk-empty-secret-{}", std::process::id()));
        std::fs::write(&empty, "\n").unwrap();
        let refused = error(args(Some("key"), empty.to_str()));
        std::fs::remove_file(&empty).unwrap();
        assert_eq!(refused, "the VideoSDK API secret is empty");
    }
}
