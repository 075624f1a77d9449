//! Equality of JSON values as kube-apiserver decides it: numbers compare by numeric value.
//!
//! serde_json's `==` tells `99` (an integer) from `99.0` (a float), which kube-apiserver never
//! does: structured-merge-diff's `value.Equals` (`value/value.go`, `EqualsUsing`), which server-side
//! apply uses to decide whether an applied field changes the live one, compares an int and a
//! float as numbers; and what kube-apiserver stores went through Go's `encoding/json`, which
//! writes a float64 99 as `99`, so the two spellings never differ in etcd either. Clients that
//! serialize with serde_json (kube-rs: a CRD's `maximum: 99.0`) and clients that serialize with Go
//! (kubectl: `99`) must therefore see the same object.

use serde_json::{Number, Value};

/// Whether `a` and `b` are the same JSON value, numbers compared by numeric value.
///
/// Objects are equal when they have the same keys (in any order) with equal values, arrays when
/// they have the same length and equal items in order, strings and booleans as serde_json
/// compares them, and `null` only to `null`.
///
/// Numbers: two integers compare exactly (i64 and u64, so `u64::MAX` is not `u64::MAX - 1`); an
/// integer and a float are equal only when the float is integral, within the integer type's
/// range and exactly that integer (so `9007199254740993` is not the float `9007199254740992.0`);
/// two floats compare as f64. structured-merge-diff converts the integer to float64 instead,
/// which makes integers beyond 2^53 equal to their float neighbours; integers are kept exact
/// here, as kube-apiserver keeps them exact everywhere else (int64 fields).
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| values_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, xv)| y.get(k).is_some_and(|yv| values_equal(xv, yv)))
        }
        _ => a == b,
    }
}

/// `value` as kube-apiserver stores a custom resource and reads it back: Go's `encoding/json`
/// writes an integral float64 below 1e21 without a fraction (`99.0` as `99`), and the
/// unstructured decoder reads a number that parses as an int64 as an int64. So a float that is
/// an int64's exact value becomes that integer; every other value is unchanged.
///
/// Custom resources are unstructured in kube-apiserver: a write that respells a stored `99` as
/// `99.0` is a change to `reflect.DeepEqual` (int64 against float64), which bumps the generation
/// (the CRD registry's `PrepareForUpdate`), and what is stored is `99` again.
pub fn go_round_trip(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_f64().filter(|_| n.is_f64()).and_then(exact_i64) {
                *n = Number::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(go_round_trip),
        Value::Object(map) => map.values_mut().for_each(go_round_trip),
        _ => {}
    }
}

/// The int64 that `f` is exactly, if any (below 1e21, where Go writes no exponent).
fn exact_i64(f: f64) -> Option<i64> {
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    (f.fract() == 0.0 && (-I64_END..I64_END).contains(&f)).then_some(f as i64)
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
        return x == y;
    }
    match (x.is_f64(), y.is_f64()) {
        (true, true) => x.as_f64() == y.as_f64(),
        (true, false) => float_is_integer(x.as_f64(), y),
        (false, true) => float_is_integer(y.as_f64(), x),
        // A negative i64 and a u64 above i64::MAX.
        (false, false) => false,
    }
}

/// Whether the float `f` is exactly the integer `n`.
fn float_is_integer(f: Option<f64>, n: &Number) -> bool {
    // 2^63 and 2^64, exact in f64: the first float above each integer type's range.
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    let Some(f) = f.filter(|f| f.is_finite() && f.fract() == 0.0) else {
        return false;
    };
    // In range, `as` converts an integral float exactly.
    if let Some(i) = n.as_i64() {
        (-I64_END..I64_END).contains(&f) && f as i64 == i
    } else if let Some(u) = n.as_u64() {
        (0.0..U64_END).contains(&f) && f as u64 == u
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn float(f: f64) -> Value {
        Value::Number(Number::from_f64(f).unwrap())
    }

    #[test]
    fn an_integer_equals_the_integral_float_of_the_same_value() {
        assert_ne!(json!(99), float(99.0), "serde_json's == tells them apart");
        assert!(values_equal(&json!(99), &float(99.0)));
        assert!(values_equal(&float(99.0), &json!(99)));
        assert!(values_equal(&json!(-3), &float(-3.0)));
        assert!(values_equal(&json!(0), &float(-0.0)));
        assert!(!values_equal(&json!(99), &float(99.5)));
        assert!(!values_equal(&json!(99), &float(98.0)));
        assert!(values_equal(&float(0.1), &float(0.1)));
        assert!(!values_equal(&float(0.1), &float(0.2)));
    }

    #[test]
    fn a_go_round_trip_writes_integral_floats_as_integers() {
        let mut v =
            json!({"a": [float(99.0), float(99.5), 3, "99.0"], "b": float(-0.0), "c": float(1e19)});
        go_round_trip(&mut v);
        assert_eq!(
            v,
            json!({"a": [99, float(99.5), 3, "99.0"], "b": 0, "c": float(1e19)})
        );
    }

    #[test]
    fn big_integers_stay_exact() {
        assert!(values_equal(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!values_equal(&json!(u64::MAX), &json!(u64::MAX - 1)));
        assert!(values_equal(&json!(i64::MIN), &json!(i64::MIN)));
        assert!(!values_equal(&json!(-1), &json!(u64::MAX)));
        // 2^53 + 1 has no f64: the nearest float is 2^53, which is not it.
        assert!(!values_equal(
            &json!(9_007_199_254_740_993_u64),
            &float(9_007_199_254_740_992.0)
        ));
        assert!(values_equal(
            &json!(9_007_199_254_740_992_u64),
            &float(9_007_199_254_740_992.0)
        ));
        // Floats outside the integer types' ranges equal no integer (`as` would saturate).
        assert!(!values_equal(&json!(i64::MAX), &float(9.3e18)));
        assert!(!values_equal(&json!(u64::MAX), &float(1.9e19)));
        assert!(!values_equal(&json!(i64::MIN), &float(-1e19)));
        assert!(values_equal(
            &json!(i64::MIN),
            &float(-9_223_372_036_854_775_808.0)
        ));
    }

    #[test]
    fn containers_compare_their_numbers_by_value() {
        let a = json!({"spec": {"max": 99, "l": [1, {"x": 2}], "s": "a", "b": true, "n": null}});
        let b =
            json!({"spec": {"l": [1.0, {"x": 2.0}], "n": null, "b": true, "s": "a", "max": 99.0}});
        assert!(values_equal(&a, &b));
        assert!(!values_equal(&a, &json!({"spec": {"max": 99}})));
        assert!(!values_equal(&json!([1, 2]), &json!([2, 1])));
        assert!(!values_equal(&json!([1]), &json!([1, 1])));
        assert!(!values_equal(&json!({"a": 1}), &json!({"b": 1})));
        assert!(!values_equal(&json!("1"), &json!(1)));
        assert!(!values_equal(&json!(null), &json!(0)));
        assert!(!values_equal(&json!(false), &json!(0)));
    }
}
