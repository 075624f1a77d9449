//! Tokens signed per second, against bare HMAC-SHA256 over an input of the same length.
//!
//! Run with `cargo bench --bench sign`. The target is that a whole `sign` (claims, JSON,
//! base64url, a fresh `jti`, HMAC) costs at most 3× the bare HMAC of its signing input, i.e.
//! that the JWT machinery around the MAC stays cheap. Each side runs for about a second, three
//! times, and the best round counts (the least disturbed by other work on the machine).
//!
//! A breakdown follows (shorter rounds, so rougher): what the parts of `sign` other than the
//! HMAC cost on their own, to show where time goes when the ratio drifts.

// A test or benchmark binary exports nothing: its `pub` items are shared between its own
// modules, and are not the crate's public API that `missing_docs` is about.
#![allow(unreachable_pub, missing_docs)]

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};
use videosdk_token_operator::api::{Permission, Role};
use videosdk_token_operator::token::{Credentials, TokenRequest, sign};

const ROUND: Duration = Duration::from_secs(1);
const PIECE_ROUND: Duration = Duration::from_millis(200);
const ROUNDS: usize = 3;

/// Operations per second of `op`, best of [`ROUNDS`] rounds of about `round` each.
fn rate(round: Duration, mut op: impl FnMut()) -> f64 {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let mut count: u64 = 0;
            while start.elapsed() < round {
                for _ in 0..256 {
                    op();
                }
                count += 256;
            }
            count as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    let credentials = Credentials::new(
        "b7e9c5a1-3f2d-4c6b-9a8e-1d2c3b4a5f6e",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    )
    .expect("valid credentials");
    // A v2 token with every claim: the largest signing input the operator makes.
    let request = TokenRequest {
        permissions: vec![Permission::AllowJoin, Permission::AllowMod],
        roles: vec![Role::Rtc],
        room_id: Some("room-1234".to_owned()),
        participant_id: Some("participant-42".to_owned()),
        ttl: Duration::from_secs(24 * 3600),
    };
    let now = SystemTime::now();

    let sample = sign(&request, &credentials, now).expect("signs");
    let signing_input_len = sample.jwt.rfind('.').expect("three segments");
    let input = vec![b'x'; signing_input_len];
    let key = hmac::Key::new(hmac::HMAC_SHA256, credentials.secret().as_bytes());

    let hmac_rate = rate(ROUND, || {
        black_box(hmac::sign(&key, black_box(&input)));
    });
    let sign_rate = rate(ROUND, || {
        black_box(sign(black_box(&request), &credentials, now).expect("signs"));
    });

    println!(
        "signing input: {signing_input_len} bytes (JWT {} bytes)",
        sample.jwt.len()
    );
    println!("bare HMAC-SHA256 (aws-lc-rs): {hmac_rate:>12.0} /s");
    println!("token::sign:                  {sign_rate:>12.0} tokens/s");
    println!(
        "ratio: signing costs {:.2}x the bare HMAC (target <= 3x)",
        hmac_rate / sign_rate
    );

    let json = serde_json::to_vec(&sample.claims).expect("serializes");
    let pieces: [(&str, f64); 5] = [
        (
            "RAND_bytes, 16 bytes (once per 32 tokens)",
            rate(PIECE_ROUND, || {
                let mut random = [0u8; 16];
                aws_lc_rs::rand::fill(black_box(&mut random)).expect("random");
                black_box(random);
            }),
        ),
        (
            "claims: clone + drop (their allocations)",
            rate(PIECE_ROUND, || {
                black_box(black_box(&sample.claims).clone());
            }),
        ),
        (
            "claims: serde_json::to_writer, pre-sized",
            rate(PIECE_ROUND, || {
                let mut out = Vec::with_capacity(512);
                serde_json::to_writer(&mut out, black_box(&sample.claims)).expect("serializes");
                black_box(out);
            }),
        ),
        (
            "claims: base64url into a pre-sized String",
            rate(PIECE_ROUND, || {
                let mut out = String::with_capacity(512);
                URL_SAFE_NO_PAD.encode_string(black_box(&json), &mut out);
                black_box(out);
            }),
        ),
        ("HMAC-SHA256 of the signing input", hmac_rate),
    ];
    println!(
        "breakdown (ns each; token::sign {:.0} ns):",
        1e9 / sign_rate
    );
    for (name, rate) in pieces {
        println!("  {name:<44} {:>6.0}", 1e9 / rate);
    }
}
