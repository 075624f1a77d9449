//! Go duration syntax (`spec.ttl`, `spec.renewBefore`): parsing never panics, agrees with an
//! independent model of Go's `time.ParseDuration`, and what `Display` prints parses back.

use proptest::prelude::*;
use std::time::Duration;
use videosdk_token_operator::token::{DurationError, GoDuration, parse_positive};

/// Go's units and their length in nanoseconds, written out again here (not taken from the
/// crate), with the largest `k` for which `unit / 10^k` is a dyadic rational: the power of 5 in
/// the unit. Fractions of at most that many digits are computed exactly by Go's float64
/// arithmetic (see [`well_formed_parse_equals_the_exact_sum`]).
const UNITS: [(&str, i128, usize); 8] = [
    ("ns", 1, 0),
    ("us", 1_000, 3),
    ("\u{00B5}s", 1_000, 3),
    ("\u{03BC}s", 1_000, 3),
    ("ms", 1_000_000, 6),
    ("s", 1_000_000_000, 9),
    ("m", 60_000_000_000, 10),
    ("h", 3_600_000_000_000, 11),
];

/// 2^63, the largest magnitude Go accumulates (that of `i64::MIN`).
const LIMIT: i128 = 1 << 63;

/// Strings close to durations: digits, points, signs, unit letters and a few letters and
/// characters that are not units, in any order.
fn near_miss() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[0-9]{1,4}",
        1 => "[0-9]{18,21}",
        2 => prop::sample::select(vec![
            ".", "-", "+", "ns", "us", "\u{00B5}s", "\u{03BC}s", "ms", "s", "m", "h", "0",
        ])
        .prop_map(str::to_owned),
        1 => prop::sample::select(vec![
            "d", "H", "n", "u", "µ", "μ", " ", "e", "x", "\u{FFFD}", "١", "０", "\n", "--",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

/// One `number unit` term of a well-formed duration, and its exact value in nanoseconds.
#[derive(Debug, Clone)]
struct Term {
    text: String,
    /// `floor(number × unit)`, in nanoseconds, exactly.
    nanos: i128,
    /// Whether the term has fraction digits beyond those Go computes exactly.
    inexact: bool,
}

/// A term: a whole part (possibly with leading zeros, possibly absent), a fraction (possibly
/// absent, possibly a bare point), a unit. `max_fraction` caps the fraction's digits beyond the
/// exactly-computed ones.
fn term(extra_fraction_digits: usize) -> impl Strategy<Value = Term> {
    let whole = prop_oneof![
        Just(None),
        (0u128..100).prop_map(Some),
        (0u128..=u128::from(u64::MAX) + 10).prop_map(Some),
        // Near the overflow boundary of each unit.
        (0usize..8, -3i128..=3)
            .prop_map(|(unit, delta)| Some((LIMIT / UNITS[unit].1 + delta).max(0) as u128)),
    ];
    (
        0usize..UNITS.len(),
        whole,
        0usize..3,
        prop::option::of("[0-9]{0,25}"),
    )
        .prop_filter_map(
            "a number needs a digit",
            move |(unit, whole, zeros, fraction)| {
                let (name, length, exact_digits) = UNITS[unit];
                let fraction = fraction.map(|digits| {
                    let keep = digits.len().min(exact_digits + extra_fraction_digits);
                    digits[..keep].to_owned()
                });
                let has_digit =
                    whole.is_some() || fraction.as_deref().is_some_and(|f| !f.is_empty());
                if !has_digit {
                    return None;
                }
                let mut text = String::new();
                let mut nanos = 0i128;
                if let Some(whole) = whole {
                    text.push_str(&"0".repeat(zeros));
                    text.push_str(&whole.to_string());
                    nanos = whole as i128 * length;
                }
                let mut inexact = false;
                if let Some(fraction) = &fraction {
                    text.push('.');
                    text.push_str(fraction);
                    if !fraction.is_empty() {
                        let digits: i128 = fraction.parse().expect("digits");
                        nanos += digits * length / 10i128.pow(fraction.len() as u32);
                        inexact = fraction.len() > exact_digits;
                    }
                }
                text.push_str(name);
                Some(Term {
                    text,
                    nanos,
                    inexact,
                })
            },
        )
}

/// A sign and one or more terms: the string, and the exact value (or `None` when Go's range
/// is exceeded), and how many terms may be off by a nanosecond (see [`Term::inexact`]).
fn well_formed(extra_fraction_digits: usize) -> impl Strategy<Value = (String, i128, usize)> {
    (
        prop::sample::select(vec!["", "-", "+"]),
        prop::collection::vec(term(extra_fraction_digits), 1..5),
    )
        .prop_map(|(sign, terms)| {
            let text = format!(
                "{sign}{}",
                terms.iter().map(|t| t.text.as_str()).collect::<String>()
            );
            let magnitude: i128 = terms.iter().map(|t| t.nanos).sum();
            let value = if sign == "-" { -magnitude } else { magnitude };
            (text, value, terms.iter().filter(|t| t.inexact).count())
        })
}

/// Interesting nanosecond counts: all of `i64`, its ends, small values, and round numbers of
/// each unit (whose printed forms have no fraction).
fn nanos() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => i64::MIN..i64::MIN + 2_000_000_000,
        1 => i64::MAX - 2_000_000_000..=i64::MAX,
        2 => -2_000_000_000i64..2_000_000_000,
        2 => (any::<i32>(), 0usize..8)
            .prop_map(|(n, unit)| i64::from(n).saturating_mul(UNITS[unit].1 as i64)),
    ]
}

/// What the parser must say about `text`, whatever it is: no panic, an error that quotes the
/// input, `parse_positive` consistent with `parse`, and a parsed value that prints back to
/// itself.
fn check_any_string(text: &str) -> Result<(), TestCaseError> {
    let parsed = text.parse::<GoDuration>();
    let positive = parse_positive(text);
    match &parsed {
        Ok(d) => {
            let printed = d.to_string();
            prop_assert_eq!(printed.parse::<GoDuration>(), Ok(*d), "{:?}", printed);
            match d.as_nanos() {
                n if n > 0 => prop_assert_eq!(positive, Ok(Duration::from_nanos(n as u64))),
                0 => prop_assert_eq!(
                    positive,
                    Err(DurationError::Zero {
                        input: text.to_owned()
                    })
                ),
                _ => prop_assert_eq!(
                    positive,
                    Err(DurationError::Negative {
                        input: text.to_owned()
                    })
                ),
            }
        }
        Err(err) => {
            prop_assert_eq!(positive, Err(err.clone()));
            let quoted = match err {
                DurationError::Empty => {
                    prop_assert_eq!(text, "");
                    None
                }
                DurationError::MissingUnit { input }
                | DurationError::InvalidNumber { input }
                | DurationError::Overflow { input }
                | DurationError::UnknownUnit { input, .. } => Some(input),
                DurationError::Negative { .. } | DurationError::Zero { .. } => {
                    return Err(TestCaseError::fail(format!(
                        "parse refused {text:?} as {err:?}: only parse_positive may"
                    )));
                }
            };
            if let Some(input) = quoted {
                prop_assert_eq!(input, text);
            }
            // The message is printable and names the input.
            let names_input = text.is_empty() || err.to_string().contains(&format!("{text:?}"));
            prop_assert!(names_input, "{} does not quote the input", err);
        }
    }
    Ok(())
}

proptest! {
    /// Users rely on any `spec.ttl` or `spec.renewBefore`, however mangled (typed by hand, pasted
    /// from elsewhere, produced by a template), getting an answer rather than crashing the
    /// operator: no string makes the parser panic, errors quote the input, and `parse_positive`
    /// says "zero" or "negative" exactly when the parsed value is.
    #[test]
    fn parsing_any_string_never_panics(text in any::<String>()) {
        check_any_string(&text)?;
    }

    /// The same as [`parsing_any_string_never_panics`] on strings made of the pieces of
    /// durations (digits, points, signs, units, near-units), which reach far more of the
    /// parser's branches than arbitrary text.
    #[test]
    fn parsing_near_miss_strings_never_panics(text in near_miss()) {
        check_any_string(&text)?;
    }

    /// Users rely on what the operator prints (in status, events and `inspect`), which is Go's
    /// `Duration.String()`, being accepted back where a duration is asked for: every `i64`
    /// nanosecond count, down to `i64::MIN`, prints as a string that parses to the same count.
    #[test]
    fn display_round_trips_through_parse(n in nanos()) {
        let printed = GoDuration::from_nanos(n).to_string();
        prop_assert_eq!(printed.parse::<GoDuration>(), Ok(GoDuration::from_nanos(n)), "{}", printed);
    }

    /// Users rely on `1h30m`, `0.5h`, `90m` and `-2562047h47m16.854775808s` meaning what they
    /// mean to Go (the API server's CEL `duration()` checked the manifest with Go's parser):
    /// a sign and a sequence of numbers with units parses to the exact sum of the terms, each
    /// truncated to the nanosecond, and to an overflow error exactly when the sum is outside
    /// Go's range. Fractions here have at most as many digits as Go computes exactly.
    #[test]
    fn well_formed_parse_equals_the_exact_sum((text, value, _) in well_formed(0)) {
        let parsed = text.parse::<GoDuration>();
        if (-LIMIT..LIMIT).contains(&value) {
            prop_assert_eq!(parsed, Ok(GoDuration::from_nanos(value as i64)), "{}", text);
        } else {
            prop_assert_eq!(parsed, Err(DurationError::Overflow { input: text.clone() }), "{}", text);
        }
    }

    /// Like [`well_formed_parse_equals_the_exact_sum`] with fractions of up to 25 digits. Go
    /// computes those in float64 (and stops reading digits past 2^63), so each such term may be
    /// a nanosecond off the exact value, as it is in Go: the result is within that of the exact
    /// sum.
    #[test]
    fn well_formed_parse_with_long_fractions_is_within_a_nanosecond_per_term(
        (text, value, inexact) in well_formed(14)
    ) {
        let parsed = text.parse::<GoDuration>();
        let slack = inexact as i128;
        if (-LIMIT + slack..LIMIT - slack).contains(&value) {
            let got = i128::from(parsed.expect("in range").as_nanos());
            prop_assert!((got - value).abs() <= slack, "{text}: {got} vs exact {value}");
        } else if !(-LIMIT - slack..LIMIT + slack).contains(&value) {
            prop_assert_eq!(parsed, Err(DurationError::Overflow { input: text.clone() }), "{}", text);
        }
    }
}
