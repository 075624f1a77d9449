//! Property tests: what users rely on, checked on generated inputs rather than examples.
//!
//! - `duration`: Go duration parsing never panics, agrees with an independent model of Go's
//!   grammar, and round-trips through Go's formatting;
//! - `signing`: every valid token spec signs into a token that reads back, verifies and inspects
//!   as the same claims;
//! - `schedule`: the renewal time lies strictly between issuance and expiry, and is stable;
//! - `trust`: a stored token with any one claim changed is always re-signed, and no valid spec
//!   re-signs a token more often than the minimum interval;
//! - `rollout`: a rollout-restart target's pods never hold an expired token longer than the
//!   restart lag the operator reports;
//! - `patches`: the in-memory API server applies JSON merge patches (RFC 7386) and JSON patches
//!   (RFC 6902) as an independent model of the RFCs does.
//!
//! `cargo test --test properties`; `PROPTEST_CASES` overrides the case counts of the cheap
//! properties (the API server ones set their own, lower, count).

// A test or benchmark binary exports nothing: its `pub` items are shared between its own
// modules, and are not the crate's public API that `missing_docs` is about.
#![allow(unreachable_pub, missing_docs)]

mod duration;
mod patches;
mod rollout;
mod schedule;
mod signing;
mod trust;
