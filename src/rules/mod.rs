//! The rules the controller, the token endpoint and the CLI share: pure data in, decisions out,
//! no Kubernetes I/O (no client, no `kube::Api`), so that each has a unit test without a cluster
//! and `status` predicts what the operator does with the operator's own functions.
//!
//! - [`credentials`]: what a valid credentials Secret is, and the [`problem::Problem`] when not;
//! - [`policy`]: what an issuer's policy grants (the controller and the token endpoint);
//! - [`decision`], [`stored`] and [`step`]: whether the token in a Secret is kept or re-signed,
//!   and why, and whether the Secret is applied meanwhile;
//! - [`renewal`]: when a token is due for renewal; [`backoff`]: when a failure is retried;
//! - [`status`]: a token's status and its conditions (`Ready`, `Reconciling`, `Stalled`);
//! - [`secret`] and [`labels`]: the Secret a token is kept in, and the operator's marks.
//!
//! The reasons of the conditions stay in `controller::reason` (the table of
//! `docs/src/troubleshooting/reasons.md` is generated there).

pub(crate) mod backoff;
pub(crate) mod credentials;
pub mod decision;
pub mod labels;
pub mod policy;
pub(crate) mod problem;
pub(crate) mod renewal;
pub mod secret;
pub mod status;
pub(crate) mod step;
pub mod stored;
