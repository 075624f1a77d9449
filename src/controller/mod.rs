//! The operator: reconciles issuers and tokens, keeps each token's Secret signed and fresh.
//!
//! Pure decisions live in [`crate::rules`] (shared with the token endpoint and the CLI), split
//! from the code here that talks to the API server (`tokens`, `issuers`, `watches`), so that
//! every rule has a unit test without a cluster. [`run`] wires the watches
//! and controllers; [`Context`] is what every reconcile shares.
//!
//! What is watched, and why:
//! - tokens, issuers and cluster issuers, filtered so that the operator's own status writes do
//!   not trigger another reconcile (tokens: generation and the renew-now annotation; issuers:
//!   generation);
//! - the Secrets the operator manages, selected by its label, metadata only, each mapped to its
//!   token by its controller ownerReference or, when a tool stripped that, its token-name label
//!   (a Secret whose labels were stripped leaves the selection, and the DELETED event still
//!   carries them); `managed_secrets` owns that watch and decides from it whether a reconcile
//!   must read a Secret;
//! - each credentials Secret that an issuer references, by name (see [`watches`]);
//!
//! and never any other Secret, so that memory does not grow with the cluster's other Secrets.

mod cached;
mod context;
pub(crate) mod display;
mod error;
pub(crate) mod events;
mod issuers;
mod managed_secrets;
mod memory;
pub mod metrics;
pub mod reason;
pub mod rollout;
mod routine_events;
mod run;
mod tokens;
mod watches;
mod writes;

pub use context::Settings;
pub use error::Error;
pub use metrics::Metrics;
pub use run::run;
pub(crate) use run::scoped;
pub use watches::CredentialSecrets;
