//! `sign`: signs a VideoSDK token without any cluster, from flags or a `VideoSdkToken` manifest.

use super::credentials::CredentialArgs;
use super::input;
use crate::api::{Permission, Role, VideoSdkToken, VideoSdkTokenSpec};
use crate::token::{self, SignedToken, TokenRequest};
use clap::{Args, ValueEnum};
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
    pub file: Option<PathBuf>,
    /// Permissions, comma-separated: allow_join, ask_join, allow_mod.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        required_unless_present = "file"
    )]
    pub permissions: Vec<Permission>,
    /// VideoSDK v2 roles, comma-separated: rtc, crawler.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub roles: Vec<Role>,
    /// VideoSDK v2: the only room the token may join.
    #[arg(long, value_name = "ID")]
    pub room_id: Option<String>,
    /// VideoSDK v2: the participant id the token is bound to.
    #[arg(long, value_name = "ID")]
    pub participant_id: Option<String>,
    /// Lifetime in Go duration syntax (24h, 90m, 1h30m) [default: 24h].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub ttl: Option<String>,
    /// Where the API key and secret come from.
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// What to print.
    #[arg(short, long, value_enum, default_value_t = SignOutput::Jwt)]
    pub output: SignOutput,
}

/// Output formats of `sign`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOutput {
    /// The JWT alone, for `$(...)` in scripts.
    Jwt,
    /// The JWT with its claims, issue time and expiry.
    Json,
}

impl SignArgs {
    /// The spec to sign: the manifest's, or one built from the flags with the CRD's defaults.
    fn spec(&self) -> Result<VideoSdkTokenSpec, String> {
        if let Some(path) = &self.file {
            let (name, text) = input::read(path)?;
            let doc: serde_yaml::Value = serde_yaml::from_str(&text)
                .map_err(|e| format!("{name} is not valid YAML: {e}"))?;
            match doc.get("kind").and_then(serde_yaml::Value::as_str) {
                Some("VideoSdkToken") => {}
                Some(kind) => return Err(format!("{name} is a {kind}, not a VideoSdkToken")),
                None => {
                    return Err(format!(
                        "{name} has no kind: expected a VideoSdkToken manifest"
                    ));
                }
            }
            let token: VideoSdkToken = serde_yaml::from_str(&text)
                .map_err(|e| format!("{name} is not a valid VideoSdkToken manifest: {e}"))?;
            // A misspelt field would otherwise be dropped and its default signed; the API server
            // refuses it (`kubectl apply` asks for fieldValidation=Strict), and so does `sign`.
            let mut unknown = Vec::new();
            let spec = doc.get("spec").cloned().unwrap_or_default();
            let _: Result<VideoSdkTokenSpec, _> =
                serde_ignored::deserialize(spec, |path| unknown.push(format!("spec.{path}")));
            if let Some(field) = unknown.first() {
                return Err(format!(
                    "{name}: unknown field {field:?}: check its spelling (the API server refuses it too)"
                ));
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
pub fn sign(args: &SignArgs, now: SystemTime) -> Result<SignedToken, String> {
    let request = TokenRequest::from_spec(&args.spec()?).map_err(|e| e.to_string())?;
    let credentials = args.credentials.credentials()?;
    token::sign(&request, &credentials, now).map_err(|e| e.to_string())
}

/// Runs the command: prints the JWT, or the JSON document.
pub fn run(args: &SignArgs) -> Result<(), String> {
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
