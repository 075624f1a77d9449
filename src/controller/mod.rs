//! The operator: reconciles issuers and tokens, keeps each token's Secret signed and fresh.
//!
//! Pure decisions (`decision`, `secret`, `stored`, `policy`, `credentials`, `backoff`,
//! `status`) are split from the code that talks to the API server, so that every rule has a
//! unit test without a cluster.

pub mod credentials;
pub mod decision;
pub mod labels;
pub mod policy;
pub mod secret;
pub mod stored;
