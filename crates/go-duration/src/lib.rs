//! Go duration syntax (`24h`, `90m`, `1h30m`, `1.5h`), parsed exactly as Go's
//! `time.ParseDuration` parses it.
//!
//! Why exactly Go: the API server checks `spec.ttl` and `spec.renewBefore` at admission with CEL's
//! `duration()`, which is Go's parser. If this operator accepted a different language, a manifest
//! could pass admission and then fail here (or the reverse), and the two would disagree on what
//! `1.5h` or `-0` means. So the grammar, the units, the overflow limits and the rounding of
//! fractions all follow Go; only the error messages are our own, written for the person who wrote
//! the manifest.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// 2^63: the magnitude of the most negative i64, the largest magnitude Go's parser accumulates.
const MAGNITUDE_LIMIT: u64 = 1 << 63;

/// The unit suffixes Go accepts, with their length in nanoseconds. Both micro signs are accepted:
/// U+00B5 (MICRO SIGN, what Go prints) and U+03BC (GREEK SMALL LETTER MU).
const UNITS: [(&str, u64); 8] = [
    ("ns", NANOSECOND),
    ("us", MICROSECOND),
    ("\u{00B5}s", MICROSECOND),
    ("\u{03BC}s", MICROSECOND),
    ("ms", MILLISECOND),
    ("s", SECOND),
    ("m", MINUTE),
    ("h", HOUR),
];

/// Why a duration string was refused. Each message quotes the input (durations are never secret)
/// and says what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("empty duration: expected a number with a unit, such as \"24h\", \"90m\" or \"1h30m\"")]
    Empty,
    /// A number not followed by a unit (Go only accepts a bare `0`).
    #[error(
        "missing unit in duration {input:?}: add one of ns, us, µs, ms, s, m, h (for example \"{input}s\" or \"{input}m\")"
    )]
    MissingUnit {
        /// The whole input.
        input: String,
    },
    /// A unit Go does not know, such as `d` for days.
    #[error(
        "unknown unit {unit:?} in duration {input:?}: use ns, us, µs, ms, s, m or h (there is no unit for days; write 48h for two days)"
    )]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// Something other than a decimal number where a number was expected.
    #[error(
        "invalid duration {input:?}: expected a sequence of decimal numbers, each with a unit, such as \"24h\", \"1.5h\" or \"2h45m\""
    )]
    InvalidNumber {
        /// The whole input.
        input: String,
    },
    /// The value does not fit in Go's range of ±2562047h47m16.854775807s.
    #[error("duration {input:?} is too long: the largest duration is 2562047h47m16.854775807s")]
    Overflow {
        /// The whole input.
        input: String,
    },
    /// A negative duration where only a positive one makes sense (a lifetime, a renewal margin).
    #[error("duration {input:?} is negative: a positive duration is required")]
    Negative {
        /// The input, or the duration in Go's notation.
        input: String,
    },
    /// A zero duration where only a positive one makes sense.
    #[error("duration {input:?} is zero: a positive duration is required")]
    Zero {
        /// The input, or the duration in Go's notation.
        input: String,
    },
}

/// A Go `time.Duration`: a signed count of nanoseconds, as `time.ParseDuration` returns it.
///
/// Parse with [`str::parse`]; print with [`fmt::Display`], which matches Go's `Duration.String()`
/// (`1h30m0s`, `1.5s`, `300ms`, `0s`), so that what we report reads the same as what
/// `kubectl` and Go tooling print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(i64);

impl GoDuration {
    /// The duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        GoDuration(nanos)
    }

    /// The length in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The duration as a `std::time::Duration`, refusing negative and zero values: the operator
    /// never wants a negative or empty lifetime, and saying so here gives the user a clear
    /// message rather than a token that is expired on arrival.
    pub fn to_positive_std(self) -> Result<Duration, DurationError> {
        match u64::try_from(self.0) {
            Ok(0) => Err(DurationError::Zero {
                input: self.to_string(),
            }),
            Ok(nanos) => Ok(Duration::from_nanos(nanos)),
            Err(_) => Err(DurationError::Negative {
                input: self.to_string(),
            }),
        }
    }
}

/// Parses `input` as Go's `time.ParseDuration` would and returns it as a positive
/// `std::time::Duration`; a negative or zero result is an error that quotes `input`.
pub fn parse_positive(input: &str) -> Result<Duration, DurationError> {
    let parsed: GoDuration = input.parse()?;
    parsed.to_positive_std().map_err(|err| match err {
        DurationError::Negative { .. } => DurationError::Negative {
            input: input.to_owned(),
        },
        DurationError::Zero { .. } => DurationError::Zero {
            input: input.to_owned(),
        },
        other => other,
    })
}

impl FromStr for GoDuration {
    type Err = DurationError;

    /// Go's grammar: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, where each number has at least one digit
    /// (before or after the point), each unit is one of ns, us, µs, μs, ms, s, m, h, and a bare
    /// `0` (with an optional sign) is the only number allowed without a unit.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = || DurationError::InvalidNumber {
            input: input.to_owned(),
        };
        let overflow = || DurationError::Overflow {
            input: input.to_owned(),
        };

        let (negative, mut rest) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        if rest == "0" {
            return Ok(GoDuration(0));
        }
        if rest.is_empty() {
            return Err(if input.is_empty() {
                DurationError::Empty
            } else {
                invalid()
            });
        }

        // The magnitude, accumulated as Go does in an unsigned 64-bit integer that may reach
        // 2^63 (the magnitude of the most negative duration).
        let mut total: u64 = 0;
        while !rest.is_empty() {
            if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
                return Err(invalid());
            }
            let (whole, after_whole) = leading_int(rest).ok_or_else(overflow)?;
            let had_whole = after_whole.len() != rest.len();
            rest = after_whole;

            let mut fraction = Fraction::default();
            let mut had_fraction = false;
            if let Some(after_point) = rest.strip_prefix('.') {
                let (parsed, after_digits) = leading_fraction(after_point);
                had_fraction = after_digits.len() != after_point.len();
                fraction = parsed;
                rest = after_digits;
            }
            if !had_whole && !had_fraction {
                // A lone point, as in ".s" or "-.".
                return Err(invalid());
            }

            let unit_len = rest
                .find(|c: char| c == '.' || c.is_ascii_digit())
                .unwrap_or(rest.len());
            if unit_len == 0 {
                return Err(DurationError::MissingUnit {
                    input: input.to_owned(),
                });
            }
            let (unit_name, after_unit) = rest.split_at(unit_len);
            rest = after_unit;
            let unit = UNITS
                .iter()
                .find(|(name, _)| *name == unit_name)
                .map(|&(_, nanos)| nanos)
                .ok_or_else(|| DurationError::UnknownUnit {
                    unit: unit_name.to_owned(),
                    input: input.to_owned(),
                })?;

            if whole > MAGNITUDE_LIMIT / unit {
                return Err(overflow());
            }
            let mut value = whole * unit;
            if fraction.digits > 0 {
                // Go computes the fraction in float64, which is exact to the nanosecond for
                // fractions of an hour (at most 3.6e12 ns); doing the same keeps results equal to
                // Go's to the last nanosecond, e.g. for "0.3333333333333333333h".
                value += (fraction.digits as f64 * (unit as f64 / fraction.scale)) as u64;
                if value > MAGNITUDE_LIMIT {
                    return Err(overflow());
                }
            }
            total = total
                .checked_add(value)
                .filter(|&t| t <= MAGNITUDE_LIMIT)
                .ok_or_else(overflow)?;
        }

        if negative {
            // 2^63 wraps to i64::MIN, which is exactly the most negative duration.
            Ok(GoDuration((total as i64).wrapping_neg()))
        } else {
            i64::try_from(total).map(GoDuration).map_err(|_| overflow())
        }
    }
}

/// Consumes leading ASCII digits as an integer; `None` when it exceeds 2^63 (Go's
/// `leadingInt` overflow).
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut value: u64 = 0;
    for digit in s.as_bytes()[..digits].iter().map(|b| u64::from(b - b'0')) {
        if value > MAGNITUDE_LIMIT / 10 {
            return None;
        }
        value = value * 10 + digit;
        if value > MAGNITUDE_LIMIT {
            return None;
        }
    }
    Some((value, &s[digits..]))
}

/// The digits after a decimal point: `digits / scale` is the fraction.
#[derive(Default)]
struct Fraction {
    digits: u64,
    scale: f64,
}

/// Consumes leading ASCII digits as a fraction. Like Go's `leadingFraction` it never fails: once
/// more digits would overflow, it stops accumulating precision and skips the rest.
fn leading_fraction(s: &str) -> (Fraction, &str) {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut fraction = Fraction {
        digits: 0,
        scale: 1.0,
    };
    for digit in s.as_bytes()[..len].iter().map(|b| u64::from(b - b'0')) {
        if fraction.digits > (MAGNITUDE_LIMIT - 1) / 10 {
            break;
        }
        let next = fraction.digits * 10 + digit;
        if next > MAGNITUDE_LIMIT {
            break;
        }
        fraction.digits = next;
        fraction.scale *= 10.0;
    }
    (fraction, &s[len..])
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String()`: `72h3m0.5s`, `1.5s`, `2.2ms`, `1.1µs`, `0s`. Durations under a
    /// second use the largest sub-second unit that keeps a non-zero integer part; longer ones use
    /// hours, minutes and seconds (hours are the largest unit because days vary in length).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.unsigned_abs();
        let mut out = String::with_capacity(32);
        if self.0 < 0 {
            out.push('-');
        }
        if nanos == 0 {
            out.push_str("0s");
        } else if nanos < MICROSECOND {
            out.push_str(&format!("{nanos}ns"));
        } else if nanos < MILLISECOND {
            push_decimal(&mut out, nanos, MICROSECOND);
            out.push_str("\u{00B5}s");
        } else if nanos < SECOND {
            push_decimal(&mut out, nanos, MILLISECOND);
            out.push_str("ms");
        } else {
            let hours = nanos / HOUR;
            let minutes = nanos % HOUR / MINUTE;
            if hours > 0 {
                out.push_str(&format!("{hours}h"));
            }
            if hours > 0 || minutes > 0 {
                out.push_str(&format!("{minutes}m"));
            }
            push_decimal(&mut out, nanos % MINUTE, SECOND);
            out.push('s');
        }
        f.write_str(&out)
    }
}

/// Writes `value / unit` in decimal, with the fraction's trailing zeros (and a bare point) left
/// out, as Go's `fmtFrac` does.
fn push_decimal(out: &mut String, value: u64, unit: u64) {
    out.push_str(&(value / unit).to_string());
    let remainder = value % unit;
    if remainder != 0 {
        let width = unit.ilog10() as usize;
        let fraction = format!("{remainder:0width$}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
}

/// A short, approximate rendering of a duration for people, as in `inspect`'s
/// "expires in 23h59m".
///
/// The two largest non-zero units among hours, minutes and seconds, truncated (never rounded up,
/// so "expires in" never overstates the time left): `23h59m`, `2h`, `5m30s`, `45s`; anything
/// under a second is `0s`. Unlike [`GoDuration`]'s `Display` it is not meant to be parsed back.
pub fn format_human(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let (major, major_unit, minor, minor_unit) = if hours > 0 {
        (hours, "h", minutes, "m")
    } else if minutes > 0 {
        (minutes, "m", seconds, "s")
    } else {
        return format!("{seconds}s");
    };
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(input: &str) -> i64 {
        input
            .parse::<GoDuration>()
            .unwrap_or_else(|err| panic!("{input:?} should parse: {err}"))
            .as_nanos()
    }

    const US: i64 = 1_000;
    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;

    /// The accepting cases of Go's `parseDurationTests` (src/time/time_test.go), plus the examples
    /// of the `time.ParseDuration` documentation ("300ms", "-1.5h", "2h45m").
    #[test]
    fn accepts_what_go_accepts() {
        let cases: &[(&str, i64)] = &[
            // Go: "simple"
            ("0", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            // Go: "sign" — a sign is allowed, and "-0"/"+0" are the bare zero.
            ("-5s", -5 * S),
            ("+5s", 5 * S),
            ("-0", 0),
            ("+0", 0),
            // Go: "decimal" — digits may be missing on either side of the point, not both.
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600 * MS),
            ("5.s", 5 * S),
            (".5s", 500 * MS),
            ("1.0s", S),
            ("1.00s", S),
            ("1.004s", S + 4 * MS),
            ("1.0040s", S + 4 * MS),
            ("100.00100s", 100 * S + MS),
            // Go: "different units", including both micro signs.
            ("10ns", 10),
            ("11us", 11 * US),
            ("12\u{00B5}s", 12 * US),
            ("12\u{03BC}s", 12 * US),
            ("13ms", 13 * MS),
            ("14s", 14 * S),
            ("15m", 15 * M),
            ("16h", 16 * H),
            // Go: "composite durations" — units may come in any order.
            ("3h30m", 3 * H + 30 * M),
            ("10.5s4m", 4 * M + 10 * S + 500 * MS),
            ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
            ("1h2m3s4ms5us6ns", H + 2 * M + 3 * S + 4 * MS + 5 * US + 6),
            ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
            // Go: "large value"
            ("52763797000ns", 52_763_797_000),
            // Go: more than 9 digits after the point (golang.org/issue/6617).
            ("0.3333333333333333333h", 20 * M),
            // Go: 2^53+1 is not representable in a float64, yet is parsed exactly.
            ("9007199254740993ns", (1 << 53) + 1),
            // Go: the largest and smallest durations, written several ways.
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("-9223372036s854ms775us808ns", i64::MIN),
            // Go: largest negative round trip (golang.org/issue/48629).
            ("-2562047h47m16.854775808s", i64::MIN),
            // Go: huge fraction string (issue 15011), and the first overflow check of its
            // fraction parser.
            ("0.100000000000000000000h", 6 * M),
            ("0.830103483285477580700h", 49 * M + 48 * S + 372_539_827),
            // The time.ParseDuration documentation's examples.
            ("300ms", 300 * MS),
            ("-1.5h", -(H + 30 * M)),
            ("2h45m", 2 * H + 45 * M),
            // As manifests write them.
            ("24h", 24 * H),
            ("90m", 90 * M),
            ("1h30m", H + 30 * M),
            ("1.5h", H + 30 * M),
            ("1.s", S),
        ];
        for &(input, want) in cases {
            assert_eq!(ns(input), want, "ParseDuration({input:?})");
        }
    }

    /// The refusing cases of Go's `parseDurationErrorTests`, each mapped to the variant that
    /// explains it. (Go's cases with invalid UTF-8 cannot be written as a `&str`; U+FFFD stands
    /// for them, as Go's own table also does.)
    #[test]
    fn refuses_what_go_refuses() {
        use DurationError as E;
        let input = |s: &str| s.to_owned();
        let cases: Vec<(&str, DurationError)> = vec![
            // Go: "invalid"
            ("", E::Empty),
            ("3", E::MissingUnit { input: input("3") }),
            ("-", E::InvalidNumber { input: input("-") }),
            ("s", E::InvalidNumber { input: input("s") }),
            (".", E::InvalidNumber { input: input(".") }),
            ("-.", E::InvalidNumber { input: input("-.") }),
            (".s", E::InvalidNumber { input: input(".s") }),
            (
                "+.s",
                E::InvalidNumber {
                    input: input("+.s"),
                },
            ),
            (
                "1d",
                E::UnknownUnit {
                    unit: input("d"),
                    input: input("1d"),
                },
            ),
            (
                "\u{FFFD}",
                E::InvalidNumber {
                    input: input("\u{FFFD}"),
                },
            ),
            (
                "\u{FFFD} hello \u{FFFD} world",
                E::InvalidNumber {
                    input: input("\u{FFFD} hello \u{FFFD} world"),
                },
            ),
            // Go: "overflow"
            (
                "9223372036854775810ns",
                E::Overflow {
                    input: input("9223372036854775810ns"),
                },
            ),
            (
                "9223372036854775808ns",
                E::Overflow {
                    input: input("9223372036854775808ns"),
                },
            ),
            (
                "-9223372036854775809ns",
                E::Overflow {
                    input: input("-9223372036854775809ns"),
                },
            ),
            (
                "9223372036854776us",
                E::Overflow {
                    input: input("9223372036854776us"),
                },
            ),
            (
                "3000000h",
                E::Overflow {
                    input: input("3000000h"),
                },
            ),
            (
                "9223372036854775.808us",
                E::Overflow {
                    input: input("9223372036854775.808us"),
                },
            ),
            (
                "9223372036854ms775us808ns",
                E::Overflow {
                    input: input("9223372036854ms775us808ns"),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                text.parse::<GoDuration>(),
                Err(want),
                "ParseDuration({text:?})"
            );
        }
    }

    /// Cases this operator's users are likely to write, and what Go says about them.
    #[test]
    fn refuses_common_mistakes_with_a_specific_error() {
        // Go: a number too long for its integer parser is an invalid duration.
        assert!(matches!(
            "99999999999999999999h".parse::<GoDuration>(),
            Err(DurationError::Overflow { .. })
        ));
        // Go has no unit for days; units are case-sensitive; spaces are not allowed.
        for (text, unit) in [("2d", "d"), ("1H", "H"), ("1 h", " h"), ("5min", "min")] {
            assert_eq!(
                text.parse::<GoDuration>(),
                Err(DurationError::UnknownUnit {
                    unit: unit.to_owned(),
                    input: text.to_owned()
                })
            );
        }
        // Go: only a bare zero goes without a unit.
        for text in ["00", "1h30", "-5"] {
            assert!(matches!(
                text.parse::<GoDuration>(),
                Err(DurationError::MissingUnit { .. })
            ));
        }
        for text in [" 1h", "1h ", "h", "1h-5m", "--1h"] {
            assert!(
                text.parse::<GoDuration>().is_err(),
                "{text:?} should be refused"
            );
        }
    }

    /// Go's `durationTests` for `Duration.String()`.
    #[test]
    fn displays_as_go_does() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{00B5}s"),
            (2_200 * US, "2.2ms"),
            (3_300 * MS, "3.3s"),
            (4 * M + 5 * S, "4m5s"),
            (4 * M + 5_001 * MS, "4m5.001s"),
            (5 * H + 6 * M + 7_001 * MS, "5h6m7.001s"),
            (8 * M + 1, "8m0.000000001s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
            // The formats the brief and the Go documentation show.
            (H + 30 * M, "1h30m0s"),
            (1_500 * MS, "1.5s"),
            (300 * MS, "300ms"),
            (-1_500 * MS, "-1.5s"),
            (24 * H, "24h0m0s"),
        ];
        for &(nanos, want) in cases {
            assert_eq!(GoDuration::from_nanos(nanos).to_string(), want);
        }
    }

    /// Go's `TestParseDurationRoundTrip`: printing then parsing gives the same value.
    #[test]
    fn display_round_trips_through_parse() {
        let mut nanos: i64 = 1;
        for step in 0..200 {
            for value in [nanos, -nanos, nanos / 1_000_000 * 1_000_000] {
                let printed = GoDuration::from_nanos(value).to_string();
                assert_eq!(ns(&printed), value, "step {step}: {printed}");
            }
            nanos = nanos.saturating_mul(3).saturating_add(7);
        }
        for value in [i64::MAX, i64::MIN] {
            assert_eq!(ns(&GoDuration::from_nanos(value).to_string()), value);
        }
    }

    #[test]
    fn positive_std_refuses_negative_and_zero() {
        assert_eq!(parse_positive("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_positive("1ns"), Ok(Duration::from_nanos(1)));
        assert_eq!(
            parse_positive("-5m"),
            Err(DurationError::Negative {
                input: "-5m".to_owned()
            })
        );
        assert_eq!(
            parse_positive("0"),
            Err(DurationError::Zero {
                input: "0".to_owned()
            })
        );
        assert_eq!(
            parse_positive("0h0m"),
            Err(DurationError::Zero {
                input: "0h0m".to_owned()
            })
        );
        assert!(matches!(
            parse_positive("1d"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert_eq!(
            GoDuration::from_nanos(-1).to_positive_std(),
            Err(DurationError::Negative {
                input: "-1ns".to_owned()
            })
        );
        assert_eq!(
            GoDuration::from_nanos(i64::MAX).to_positive_std(),
            Ok(Duration::from_nanos(i64::MAX as u64))
        );
    }

    #[test]
    fn error_messages_name_the_problem() {
        let message = |s: &str| s.parse::<GoDuration>().unwrap_err().to_string();
        assert!(message("2d").contains("unknown unit \"d\" in duration \"2d\""));
        assert!(message("2d").contains("48h"));
        assert!(message("90").contains("missing unit in duration \"90\""));
        assert!(message("90").contains("\"90m\""));
        assert!(message("").starts_with("empty duration"));
        assert!(message("abc").contains("invalid duration \"abc\""));
        assert!(message("3000000h").contains("too long"));
    }

    #[test]
    fn human_format_is_short_and_truncates() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (45, "45s"),
            (60, "1m"),
            (5 * 60 + 30, "5m30s"),
            (59 * 60 + 59, "59m59s"),
            (2 * 3600, "2h"),
            (2 * 3600 + 59, "2h"),
            (23 * 3600 + 59 * 60 + 59, "23h59m"),
            (48 * 3600 + 60, "48h1m"),
        ];
        for &(secs, want) in cases {
            assert_eq!(format_human(Duration::from_secs(secs)), want);
        }
        assert_eq!(format_human(Duration::from_millis(999)), "0s");
        assert_eq!(format_human(Duration::from_millis(61_999)), "1m1s");
    }
}
