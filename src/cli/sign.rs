//! `sign`: signs a VideoSDK token without any cluster, from flags or a `VideoSdkToken` manifest.

use super::credentials::{self, CredentialArgs};
use super::input;
use crate::api::{Permission, Role, VideoSdkToken, VideoSdkTokenSpec};
use crate::token::{self, SignedToken, TokenRequest};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use serde_json::json;
use std::path::PathBuf;
use std::time::SystemTime;

/// Sign a VideoSDK access token with the API key and secret, without a cluster.
///
/// The claims come from flags, or from the spec of a VideoSdkToken manifest (-f). The secret
/// comes from $VIDEOSDK_SECRET or --secret-file, never from a flag value.
///
/// Examples:
///   VIDEOSDK_API_KEY=key VIDEOSDK_SECRET=secret videosdk-token-operator sign --permissions allow_join --ttl 2h
///   videosdk-token-operator sign -f deploy/examples/token.yaml --secret-file ./secret --output json
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct SignArgs {
    /// Take the claims from this VideoSdkToken manifest ('-' reads stdin) instead of the flags.
    #[arg(short = 'f', long = "filename", value_name = "FILE",
          conflicts_with_all = ["permissions", "roles", "room_id", "participant_id", "ttl"])]
    pub(crate) file: Option<PathBuf>,
    /// Permissions, comma-separated: allow_join, ask_join, allow_mod.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        required_unless_present = "file"
    )]
    pub(crate) permissions: Vec<Permission>,
    /// VideoSDK v2 roles, comma-separated: rtc, crawler.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub(crate) roles: Vec<Role>,
    /// VideoSDK v2: the only room the token may join.
    #[arg(long, value_name = "ID")]
    pub(crate) room_id: Option<String>,
    /// VideoSDK v2: the participant id the token is bound to.
    #[arg(long, value_name = "ID")]
    pub(crate) participant_id: Option<String>,
    /// Lifetime in Go duration syntax (24h, 90m, 1h30m) [default: 24h].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub(crate) ttl: Option<String>,
    /// Where the API key and secret come from.
    #[command(flatten)]
    pub(crate) credentials: CredentialArgs,
    /// What to print.
    #[arg(short, long, value_enum, default_value_t = SignOutput::Jwt)]
    pub(crate) output: SignOutput,
}

/// Why no token was signed (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `-f` file or standard input cannot be read.
    #[error(transparent)]
    Input(#[from] input::Error),
    /// The `-f` input is not YAML.
    #[error("{name} is not valid YAML: {source}")]
    NotYaml {
        /// The file, or `standard input`.
        name: String,
        /// Where and why the YAML does not parse.
        source: serde_yaml::Error,
    },
    /// The `-f` input holds several YAML documents (`---`); `sign` takes one token.
    #[error(
        "{name} holds {documents} YAML documents; sign -f signs one VideoSdkToken: put the one to sign in a file of its own"
    )]
    SeveralDocuments {
        /// The file, or `standard input`.
        name: String,
        /// How many non-empty documents it holds.
        documents: usize,
    },
    /// The `-f` manifest is of another kind (`kind: VideoSdkIssuer`).
    #[error("{name} is a {kind}, not a VideoSdkToken")]
    WrongKind {
        /// The file, or `standard input`.
        name: String,
        /// Its kind.
        kind: String,
    },
    /// The `-f` manifest has no `kind`.
    #[error("{name} has no kind: expected a VideoSdkToken manifest")]
    NoKind {
        /// The file, or `standard input`.
        name: String,
    },
    /// The `-f` manifest is a VideoSdkToken whose fields do not have the schema's types or
    /// values (`permissions: [join]`).
    #[error("{name} is not a valid VideoSdkToken manifest: {source}")]
    InvalidManifest {
        /// The file, or `standard input`.
        name: String,
        /// The field and what is wrong with it.
        source: serde_yaml::Error,
    },
    /// The `-f` manifest's spec has a field the schema does not know (a misspelling), which
    /// would otherwise be dropped and its default signed.
    #[error("{name}: unknown field {field:?}: check its spelling (the API server refuses it too)")]
    UnknownField {
        /// The file, or `standard input`.
        name: String,
        /// Its path (`spec.tll`).
        field: String,
    },
    /// The API key or secret is missing, unreadable or refused.
    #[error(transparent)]
    Credentials(#[from] credentials::Error),
    /// The claims break a rule (no permissions, a ttl out of range, a control character), or
    /// signing failed (the clock, the random number generator).
    #[error(transparent)]
    Sign(#[from] token::SignError),
}

/// Output formats of `sign`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignOutput {
    /// The JWT alone, for `$(...)` in scripts.
    Jwt,
    /// The JWT with its claims, issue time and expiry.
    Json,
}

impl SignArgs {
    /// The spec to sign: the manifest's, or one built from the flags with the CRD's defaults.
    fn spec(&self) -> Result<VideoSdkTokenSpec, Error> {
        if let Some(path) = &self.file {
            let (name, text) = input::read(path)?;
            // A document that does not parse ends the count (serde_yaml's iterator can repeat
            // the error for ever); the parse below then reports it.
            let documents = serde_yaml::Deserializer::from_str(&text)
                .map(serde_yaml::Value::deserialize)
                .map_while(Result::ok)
                .filter(|document| !document.is_null())
                .count();
            if documents > 1 {
                return Err(Error::SeveralDocuments { name, documents });
            }
            let doc: serde_yaml::Value = match serde_yaml::from_str(&text) {
                Ok(doc) => doc,
                Err(source) => return Err(Error::NotYaml { name, source }),
            };
            match doc.get("kind").and_then(serde_yaml::Value::as_str) {
                Some("VideoSdkToken") => {}
                Some(kind) => {
                    let kind = kind.to_owned();
                    return Err(Error::WrongKind { name, kind });
                }
                None => return Err(Error::NoKind { name }),
            }
            let token: VideoSdkToken = match serde_yaml::from_str(&text) {
                Ok(token) => token,
                Err(source) => return Err(Error::InvalidManifest { name, source }),
            };
            // A misspelt field would otherwise be dropped and its default signed; the API server
            // refuses it (`kubectl apply` asks for fieldValidation=Strict), and so does `sign`.
            let mut unknown = Vec::new();
            let spec = doc.get("spec").cloned().unwrap_or_default();
            let _: Result<VideoSdkTokenSpec, _> =
                serde_ignored::deserialize(spec, |path| unknown.push(format!("spec.{path}")));
            if let Some(field) = unknown.into_iter().next() {
                return Err(Error::UnknownField { name, field });
            }
            return Ok(token.spec);
        }
        let defaults: VideoSdkTokenSpec = serde_json::from_value(json!({
            "issuerRef": {"name": "offline"},
            "permissions": [],
        }))
        .expect("the spec's defaults deserialise");
        Ok(VideoSdkTokenSpec {
            permissions: self.permissions.clone(),
            roles: (!self.roles.is_empty()).then(|| self.roles.clone()),
            room_id: self.room_id.clone(),
            participant_id: self.participant_id.clone(),
            ttl: self.ttl.clone().unwrap_or(defaults.ttl.clone()),
            ..defaults
        })
    }
}

/// Signs the token the arguments describe, as of `now`.
pub(crate) fn sign(args: &SignArgs, now: SystemTime) -> Result<SignedToken, Error> {
    let request = TokenRequest::from_spec(&args.spec()?).map_err(token::SignError::from)?;
    let credentials = args.credentials.credentials()?;
    Ok(token::sign(&request, &credentials, now)?)
}

/// Runs the command: prints the JWT, or the JSON document.
pub fn run(args: &SignArgs) -> Result<(), Error> {
    let token = sign(args, SystemTime::now())?;
    match args.output {
        SignOutput::Jwt => println!("{}", token.jwt),
        SignOutput::Json => {
            let doc = json!({
                "token": token.jwt,
                "claims": token.claims,
                "issuedAt": crate::time::rfc3339(token.claims.iat),
                "expiresAt": crate::time::rfc3339(token.claims.exp),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("JSON values serialise")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_that_is_not_a_token_says_what_it_is() {
        let dir = std::env::temp_dir().join(format!("videosdk-sign-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            (
                "kind: VideoSdkIssuer\n",
                " is a VideoSdkIssuer, not a VideoSdkToken",
            ),
            (
                "metadata: {name: t}\n",
                " has no kind: expected a VideoSdkToken manifest",
            ),
            ("kind: VideoSdkToken\nspec: [\n", " is not valid YAML: "),
            (
                "kind: VideoSdkToken\n---\nkind: VideoSdkToken\n---\n",
                " holds 2 YAML documents; sign -f signs one VideoSdkToken: put the one to sign in a file of its own",
            ),
            (
                "kind: VideoSdkToken\nspec: {permissions: [join]}\n",
                " is not a valid VideoSdkToken manifest: ",
            ),
            (
                "kind: VideoSdkToken\nmetadata: {name: t}\nspec: {issuerRef: {name: i}, permissions: [allow_join], tll: 1h}\n",
                ": unknown field \"spec.tll\": check its spelling (the API server refuses it too)",
            ),
        ];
        for (i, (text, want)) in cases.into_iter().enumerate() {
            let file = dir.join(format!("{i}.yaml"));
            std::fs::write(&file, text).unwrap();
            let args = SignArgs {
                file: Some(file.clone()),
                permissions: vec![],
                roles: vec![],
                room_id: None,
                participant_id: None,
                ttl: None,
                credentials: CredentialArgs {
                    api_key: None,
                    secret_file: None,
                },
                output: SignOutput::Jwt,
            };
            let error = args.spec().unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("{}{want}", file.display())),
                "{error}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
