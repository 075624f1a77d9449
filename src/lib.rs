//! videosdk-token-operator: issues VideoSDK access tokens into Kubernetes Secrets and keeps them
//! fresh. See the README and the book (`docs/`) for the product and its design.

pub mod api;
pub mod cli;
pub mod controller;
pub mod endpoints;
pub mod listener;
pub mod manifests;
pub mod operator;
pub mod request_timeout;
pub mod rules;
pub mod time;
pub mod token;
pub mod token_requests;
