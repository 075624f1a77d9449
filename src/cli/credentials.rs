//! Where the offline commands find the VideoSDK API key and secret.
//!
//! The secret is never accepted as a flag value: it would show in the process list and in shell
//! history. It comes from `VIDEOSDK_SECRET` or from a file (`--secret-file`), the way a
//! Kubernetes Secret is mounted into a pod.

use crate::token::Credentials;
use clap::Args;
use std::path::PathBuf;

/// Environment variable holding the API secret.
pub const SECRET_ENV: &str = "VIDEOSDK_SECRET";

/// Flags naming the credentials (shared by `sign` and `inspect`).
#[derive(Args, Debug, Clone)]
pub struct CredentialArgs {
    /// VideoSDK API key (default: $VIDEOSDK_API_KEY).
    #[arg(long, env = "VIDEOSDK_API_KEY", value_name = "KEY")]
    pub api_key: Option<String>,
    /// File holding the VideoSDK API secret, such as a mounted Secret key (default:
    /// $VIDEOSDK_SECRET). One trailing newline is ignored, so `echo secret > file` works.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

impl CredentialArgs {
    /// The API secret, from `--secret-file` or else `$VIDEOSDK_SECRET`; `None` when neither is set.
    pub fn secret(&self) -> Result<Option<String>, String> {
        if let Some(path) = &self.secret_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            return Ok(Some(text.to_owned()));
        }
        match std::env::var(SECRET_ENV) {
            Ok(secret) => Ok(Some(secret)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("${SECRET_ENV} is not valid UTF-8"))
            }
        }
    }

    /// Both the API key and the secret, checked, as signing needs them.
    pub fn credentials(&self) -> Result<Credentials, String> {
        let api_key = self
            .api_key
            .clone()
            .ok_or("no VideoSDK API key: set VIDEOSDK_API_KEY or pass --api-key")?;
        let secret = self.secret()?.ok_or(format!(
            "no VideoSDK API secret: set {SECRET_ENV} or pass --secret-file"
        ))?;
        Credentials::new(api_key, secret).map_err(|e| e.to_string())
    }
}
