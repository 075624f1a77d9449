//! `renew`: asks the operator to re-sign tokens now, as `cmctl renew` does for Certificates, by
//! giving the `videosdk.live/renew-now` annotation a new value (the operator re-signs a token
//! once per new value; see `rules::decision`).
//!
//! [`selection`] turns the flags into a [`Selection`] with no I/O, refusing ambiguous input; the
//! rest lists the tokens and patches them.

use super::connect::{self, ClusterArgs, ReadError};
use super::runtime;
use crate::api::{RENEW_NOW_ANNOTATION, VideoSdkToken};
use clap::Args;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

/// Ask the operator to re-sign VideoSdkTokens now.
///
/// Sets the videosdk.live/renew-now annotation to a new value (the current time) on one token by
/// name, on the tokens matching a label selector (-l), or on every token of the namespace
/// (--all); -A does either in all namespaces. The operator re-signs each once, within seconds,
/// and writes the new token into its Secret. Prints each token it changed.
/// Also works as `kubectl videosdk renew ...` when installed as the kubectl plugin
/// `kubectl-videosdk`.
///
/// Exit codes: 0 every selected token was changed; 2 nothing matched, a token was not found, the
/// flags were ambiguous or a change failed.
///
/// Examples:
///   videosdk-token-operator renew participant
///   videosdk-token-operator renew -l app=demo-client -n default
///   videosdk-token-operator renew --all -A
///   kubectl videosdk renew participant
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct RenewArgs {
    /// Name of the VideoSdkToken to renew.
    #[arg(value_name = "NAME", conflicts_with_all = ["selector", "all"])]
    pub(crate) name: Option<String>,
    /// Renew the tokens matching this label selector (as kubectl -l: `app=web,tier!=test`).
    #[arg(short = 'l', long, value_name = "SELECTOR", conflicts_with = "all")]
    pub(crate) selector: Option<String>,
    /// Renew every token of the namespace (of all namespaces with -A).
    #[arg(long)]
    pub(crate) all: bool,
    /// With -l or --all: in all namespaces.
    #[arg(short = 'A', long, conflicts_with = "name")]
    pub(crate) all_namespaces: bool,
    /// How to reach the cluster.
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
}

/// Which tokens to renew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// One token by name, in the namespace.
    Name(String),
    /// The tokens matching a label selector (`None`: all of them); `all_namespaces` or in the
    /// namespace.
    Matching {
        /// The label selector.
        selector: Option<String>,
        /// In every namespace, rather than the one given.
        all_namespaces: bool,
    },
}

/// Flags that name no token, or several kinds of selection at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// `-l` is empty or blank, which would select every token.
    #[error(
        "the label selector (-l) is empty: give one such as -l app=web, or use --all to renew every token"
    )]
    EmptySelector,
    /// Neither a name, `-l` nor `--all` (renewing every token must be asked for).
    #[error(
        "which tokens? give a token NAME, a label selector (-l key=value), or --all for every token of the namespace (with -A: of all namespaces)"
    )]
    NoneNamed,
    /// More than one of a name, `-l` and `--all`.
    #[error("give either a token NAME, -l SELECTOR or --all, not several")]
    Several,
}

/// The tokens already renewed when a change failed part-way; shown after the error as
/// ` (already renewed: ns/a, ns/b)`, nothing when none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renewed(pub Vec<String>);

impl std::fmt::Display for Renewed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " (already renewed: {})", self.0.join(", "))
        }
    }
}

/// Why `renew` did not renew every token it was asked to (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `-l` or `--all` matched no token.
    #[error("no VideoSdkToken {}{}", scope(namespace.as_deref()), matching(selector.as_deref()))]
    NoneMatch {
        /// The namespace listed; `None` with `-A`.
        namespace: Option<String>,
        /// The `-l` selector, if given.
        selector: Option<String>,
    },
    /// The token named does not exist (or was deleted after it was listed).
    #[error(
        "VideoSdkToken {namespace}/{name} not found: list the tokens with `kubectl get videosdktokens -n {namespace}`{renewed}"
    )]
    TokenNotFound {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The tokens renewed before it.
        renewed: Renewed,
    },
    /// RBAC does not let this user patch the token.
    #[error("not allowed to change VideoSdkToken {namespace}/{name}: {message}{renewed}")]
    Forbidden {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API server's message (names the user, verb and resource).
        message: String,
        /// The tokens renewed before it.
        renewed: Renewed,
    },
    /// The patch failed otherwise (the API server unreachable, a webhook refused it).
    #[error("cannot change VideoSdkToken {namespace}/{name}: {source}{renewed}")]
    Change {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What kube said (boxed: it is large, and this enum travels in `Result`s).
        source: Box<kube::Error>,
        /// The tokens renewed before it.
        renewed: Renewed,
    },
    /// The API server refused the `-l` selector (400).
    #[error("invalid label selector: {message}")]
    InvalidSelector {
        /// The API server's message.
        message: String,
    },
    /// The tokens could not be listed (forbidden, the API server unreachable).
    #[error(transparent)]
    List(ReadError),
    /// The flags name no token, or several kinds of selection.
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// No client for the cluster could be made.
    #[error(transparent)]
    Connect(#[from] connect::Error),
    /// The async runtime could not start.
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
}

/// `in namespace NS`, or `in any namespace` for `None` (`-A`).
fn scope(namespace: Option<&str>) -> String {
    match namespace {
        Some(namespace) => format!("in namespace {namespace}"),
        None => "in any namespace".to_owned(),
    }
}

/// ` matches -l SELECTOR`, or nothing without a selector.
fn matching(selector: Option<&str>) -> String {
    selector.map_or_else(String::new, |s| format!(" matches -l {s}"))
}

/// The selection the flags ask for; an error that says what to add when they name no token
/// (renewing every token must be asked for with `--all`, as `kubectl delete` asks).
pub(crate) fn selection(args: &RenewArgs) -> Result<Selection, SelectionError> {
    match (&args.name, &args.selector, args.all) {
        (Some(name), None, false) => Ok(Selection::Name(name.clone())),
        (None, Some(selector), false) if selector.trim().is_empty() => {
            Err(SelectionError::EmptySelector)
        }
        (None, Some(selector), false) => Ok(Selection::Matching {
            selector: Some(selector.clone()),
            all_namespaces: args.all_namespaces,
        }),
        (None, None, true) => Ok(Selection::Matching {
            selector: None,
            all_namespaces: args.all_namespaces,
        }),
        (None, None, false) => Err(SelectionError::NoneNamed),
        _ => Err(SelectionError::Several),
    }
}

/// A new value for the annotation: the current time in RFC 3339 with nanoseconds, so that two
/// requests never share one and the value says when it was asked.
fn new_value() -> String {
    Timestamp::now().to_string()
}

/// The field manager `renew` writes as, so that `managedFields` says who asked for a renewal
/// (as `kubectl annotate` writes as `kubectl-annotate`).
pub(crate) const FIELD_MANAGER: &str = "videosdk-token-operator-renew";

/// Sets the annotation to `value` on the token `name`; a merge patch, as `kubectl annotate`
/// does, so that the annotation stays the user's to change (server-side apply would make this
/// command own it and conflict with a later `kubectl annotate` or GitOps apply).
async fn annotate(api: &Api<VideoSdkToken>, name: &str, value: &str) -> Result<(), kube::Error> {
    let patch = json!({"metadata": {"annotations": {RENEW_NOW_ANNOTATION: value}}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch))
        .await
        .map(|_| ())
}

/// Renews what `selection` names; returns `namespace/name` of each token changed, in order.
pub(crate) async fn renew(
    client: &Client,
    namespace: &str,
    selection: &Selection,
) -> Result<Vec<String>, Error> {
    let value = new_value();
    let targets: Vec<(String, String)> = match selection {
        Selection::Name(name) => vec![(namespace.to_owned(), name.clone())],
        Selection::Matching {
            selector,
            all_namespaces,
        } => {
            let (api, listed_namespace): (Api<VideoSdkToken>, _) = if *all_namespaces {
                (Api::all(client.clone()), None)
            } else {
                (
                    Api::namespaced(client.clone(), namespace),
                    Some(namespace.to_owned()),
                )
            };
            let mut params = ListParams::default();
            if let Some(selector) = selector {
                params = params.labels(selector);
            }
            let listed = api.list_metadata(&params).await.map_err(|e| match e {
                kube::Error::Api(s) if s.code == 400 => {
                    Error::InvalidSelector { message: s.message }
                }
                e => Error::List(ReadError::new(
                    e,
                    format!("the VideoSdkTokens {}", scope(listed_namespace.as_deref())),
                )),
            })?;
            let found: Vec<(String, String)> = listed
                .items
                .iter()
                .map(|t| (t.namespace().unwrap_or_default(), t.name_any()))
                .collect();
            if found.is_empty() {
                return Err(Error::NoneMatch {
                    namespace: listed_namespace,
                    selector: selector.clone(),
                });
            }
            found
        }
    };
    let mut changed = Vec::new();
    for (namespace, name) in targets {
        let api: Api<VideoSdkToken> = Api::namespaced(client.clone(), &namespace);
        if let Err(e) = annotate(&api, &name, &value).await {
            let renewed = Renewed(changed);
            return Err(match e {
                kube::Error::Api(s) if s.is_not_found() => Error::TokenNotFound {
                    namespace,
                    name,
                    renewed,
                },
                kube::Error::Api(s) if s.is_forbidden() => Error::Forbidden {
                    namespace,
                    name,
                    message: s.message,
                    renewed,
                },
                source => Error::Change {
                    namespace,
                    name,
                    source: Box::new(source),
                    renewed,
                },
            });
        }
        changed.push(format!("{namespace}/{name}"));
    }
    Ok(changed)
}

/// Runs the command, printing each token changed.
pub fn run(args: &RenewArgs) -> Result<(), Error> {
    let selection = selection(args)?;
    runtime::runtime()?.block_on(async {
        let (client, namespace) = connect::connect(&args.cluster).await?;
        // Printed as the whole list at the end: a failure part-way names what was done.
        for token in renew(&client, &namespace, &selection).await? {
            println!("Renewal requested for VideoSdkToken {token} ({RENEW_NOW_ANNOTATION} set)");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RenewArgs,
    }

    fn parse(args: &[&str]) -> Result<Selection, String> {
        let cli = Cli::try_parse_from(std::iter::once("renew").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        selection(&cli.args).map_err(|e| e.to_string())
    }

    #[test]
    fn a_name_a_selector_or_all() {
        assert_eq!(parse(&["web"]), Ok(Selection::Name("web".into())));
        assert_eq!(
            parse(&["-l", "app=web"]),
            Ok(Selection::Matching {
                selector: Some("app=web".into()),
                all_namespaces: false
            })
        );
        assert_eq!(
            parse(&["--all", "-A"]),
            Ok(Selection::Matching {
                selector: None,
                all_namespaces: true
            })
        );
    }

    #[test]
    fn ambiguous_input_is_refused_saying_what_to_give() {
        let none = parse(&[]).unwrap_err();
        assert!(none.contains("NAME") && none.contains("--all"), "{none}");
        assert!(parse(&["-A"]).unwrap_err().contains("--all"));
        assert!(parse(&["-l", " "]).unwrap_err().contains("empty"));
        assert!(parse(&["web", "--all"]).is_err());
        assert!(parse(&["web", "-l", "a=b"]).is_err());
        assert!(parse(&["web", "-A"]).is_err());
        assert!(parse(&["-l", "a=b", "--all"]).is_err());
    }

    #[test]
    fn each_value_is_new() {
        assert_ne!(new_value(), new_value());
    }

    #[test]
    fn a_failure_names_the_scope_and_what_was_already_renewed() {
        let none = |namespace: Option<&str>, selector: Option<&str>| {
            Error::NoneMatch {
                namespace: namespace.map(str::to_owned),
                selector: selector.map(str::to_owned),
            }
            .to_string()
        };
        assert_eq!(
            none(Some("default"), Some("app=web")),
            "no VideoSdkToken in namespace default matches -l app=web"
        );
        assert_eq!(none(None, None), "no VideoSdkToken in any namespace");
        let forbidden = |renewed: Vec<&str>| {
            Error::Forbidden {
                namespace: "default".into(),
                name: "b".into(),
                message: "denied".into(),
                renewed: Renewed(renewed.into_iter().map(str::to_owned).collect()),
            }
            .to_string()
        };
        assert_eq!(
            forbidden(vec![]),
            "not allowed to change VideoSdkToken default/b: denied"
        );
        assert_eq!(
            forbidden(vec!["default/a"]),
            "not allowed to change VideoSdkToken default/b: denied (already renewed: default/a)"
        );
    }
}
