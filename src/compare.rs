//! Comparing computed outputs with expected ones under named tolerances.
//!
//! A check passes element-wise when `|actual − expected| ≤ atol + rtol·|expected|`
//! (numpy's `allclose` rule), NaN matching NaN and infinities matching in
//! sign. The levels are defined per float type, because what "close" means
//! for a float16 is not what it means for a double:
//!
//! | level | float16 | bfloat16 | float | double |
//! |---|---|---|---|---|
//! | `exact` | 0, 0 | 0, 0 | 0, 0 | 0, 0 |
//! | `close` | 1e-3, 1e-2 | 1e-2, 2e-2 | 1e-5, 1e-4 | 1e-12, 1e-10 |
//! | `approximate` | 1e-2, 5e-2 | 5e-2, 1e-1 | 1e-3, 1e-3 | 1e-8, 1e-6 |
//!
//! (atol, rtol in each cell.) `close` is what a different but sound
//! arrangement of the same float operations gives; `approximate` admits
//! differences in transcendental function implementations across runtimes.

use std::fmt;
use std::str::FromStr;

use crate::model::tensor::FloatType;

/// A named tolerance level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    Exact,
    Close,
    Approximate,
}

impl Tolerance {
    /// `(atol, rtol)` for this level and type.
    pub fn bounds(self, ty: FloatType) -> (f64, f64) {
        use FloatType::*;
        match (self, ty) {
            (Tolerance::Exact, _) => (0.0, 0.0),
            (Tolerance::Close, F16) => (1e-3, 1e-2),
            (Tolerance::Close, BF16) => (1e-2, 2e-2),
            (Tolerance::Close, F32) => (1e-5, 1e-4),
            (Tolerance::Close, F64) => (1e-12, 1e-10),
            (Tolerance::Approximate, F16) => (1e-2, 5e-2),
            (Tolerance::Approximate, BF16) => (5e-2, 1e-1),
            (Tolerance::Approximate, F32) => (1e-3, 1e-3),
            (Tolerance::Approximate, F64) => (1e-8, 1e-6),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tolerance::Exact => "exact",
            Tolerance::Close => "close",
            Tolerance::Approximate => "approximate",
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tolerance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "exact" => Ok(Tolerance::Exact),
            "close" => Ok(Tolerance::Close),
            "approximate" => Ok(Tolerance::Approximate),
            other => Err(format!(
                "unknown tolerance `{other}` (expected exact, close or approximate)"
            )),
        }
    }
}

/// Whether one element passes.
pub fn within(actual: f64, expected: f64, atol: f64, rtol: f64) -> bool {
    if actual.is_nan() || expected.is_nan() {
        return actual.is_nan() && expected.is_nan();
    }
    if actual.is_infinite() || expected.is_infinite() {
        return actual == expected;
    }
    (actual - expected).abs() <= atol + rtol * expected.abs()
}

/// The summary of comparing one output.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub elements: usize,
    pub max_abs_error: f64,
    pub max_rel_error: f64,
    pub mean_abs_error: f64,
    /// Distance in units in the last place of the compared type.
    pub max_ulp: u64,
    /// The flat index of the element with the largest excess over the bound.
    pub worst_index: Option<usize>,
    pub worst_actual: Option<f64>,
    pub worst_expected: Option<f64>,
    pub beyond_tolerance: usize,
    pub nan_inf_mismatches: usize,
    /// The smallest atol that would have passed with the same rtol
    /// (`None` when NaN/Inf mismatches mean no atol can).
    pub min_passing_atol: Option<f64>,
    pub atol: f64,
    pub rtol: f64,
    pub passed: bool,
}

/// Compares `actual` with `expected` (same length) as values of type `ty`.
pub fn compare(
    actual: &[f64],
    expected: &[f64],
    ty: FloatType,
    atol: f64,
    rtol: f64,
) -> Comparison {
    let mut c = Comparison {
        elements: actual.len(),
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        mean_abs_error: 0.0,
        max_ulp: 0,
        worst_index: None,
        worst_actual: None,
        worst_expected: None,
        beyond_tolerance: 0,
        nan_inf_mismatches: 0,
        min_passing_atol: Some(0.0),
        atol,
        rtol,
        passed: true,
    };
    let mut sum_abs = 0.0;
    let mut finite = 0usize;
    let mut worst_excess = f64::NEG_INFINITY;
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let special = !a.is_finite() || !e.is_finite();
        if special {
            let matches = (a.is_nan() && e.is_nan()) || a == e;
            if !matches {
                c.nan_inf_mismatches += 1;
                c.beyond_tolerance += 1;
                c.min_passing_atol = None;
                if worst_excess < f64::INFINITY {
                    worst_excess = f64::INFINITY;
                    c.worst_index = Some(i);
                    c.worst_actual = Some(a);
                    c.worst_expected = Some(e);
                }
            }
            continue;
        }
        let abs = (a - e).abs();
        sum_abs += abs;
        finite += 1;
        c.max_abs_error = c.max_abs_error.max(abs);
        if e != 0.0 {
            c.max_rel_error = c.max_rel_error.max(abs / e.abs());
        } else if abs > 0.0 {
            c.max_rel_error = f64::INFINITY;
        }
        c.max_ulp = c.max_ulp.max(ulp_distance(a, e, ty));
        let excess = abs - (atol + rtol * e.abs());
        if excess > 0.0 {
            c.beyond_tolerance += 1;
        }
        if let Some(min) = c.min_passing_atol.as_mut() {
            *min = min.max(abs - rtol * e.abs());
        }
        if excess > worst_excess {
            worst_excess = excess;
            c.worst_index = Some(i);
            c.worst_actual = Some(a);
            c.worst_expected = Some(e);
        }
    }
    if finite > 0 {
        c.mean_abs_error = sum_abs / finite as f64;
    }
    c.passed = c.beyond_tolerance == 0;
    c
}

/// ULP distance between two finite values rounded to `ty`.
fn ulp_distance(a: f64, b: f64, ty: FloatType) -> u64 {
    // Map each value to an integer that orders like the floats.
    fn ordered(bits: i64, sign_bit: i64) -> i64 {
        if bits & sign_bit != 0 {
            sign_bit - bits
        } else {
            bits
        }
    }
    let (x, y) = match ty {
        FloatType::F64 => {
            let s = i64::MIN;
            (
                ordered(a.to_bits() as i64, s),
                ordered(b.to_bits() as i64, s),
            )
        }
        FloatType::F32 => {
            let s = 1i64 << 31;
            (
                ordered((a as f32).to_bits() as i64, s),
                ordered((b as f32).to_bits() as i64, s),
            )
        }
        FloatType::F16 => {
            let s = 1i64 << 15;
            (
                ordered(half::f16::from_f64(a).to_bits() as i64, s),
                ordered(half::f16::from_f64(b).to_bits() as i64, s),
            )
        }
        FloatType::BF16 => {
            let s = 1i64 << 15;
            (
                ordered(half::bf16::from_f64(a).to_bits() as i64, s),
                ordered(half::bf16::from_f64(b).to_bits() as i64, s),
            )
        }
    };
    x.abs_diff(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_finds_the_worst_element_and_passing_atol() {
        let c = compare(
            &[1.0, 2.0, 3.5],
            &[1.0, 2.05, 3.0],
            FloatType::F32,
            0.1,
            0.0,
        );
        assert!(!c.passed);
        assert_eq!(c.beyond_tolerance, 1);
        assert_eq!(c.worst_index, Some(2));
        assert!((c.min_passing_atol.unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn nan_matches_only_nan() {
        let c = compare(
            &[f64::NAN, 1.0],
            &[f64::NAN, f64::NAN],
            FloatType::F32,
            1.0,
            0.0,
        );
        assert_eq!(c.nan_inf_mismatches, 1);
        assert_eq!(c.min_passing_atol, None);
    }

    #[test]
    fn ulps_count_representable_steps() {
        let next = f32::from_bits(1.0f32.to_bits() + 3) as f64;
        assert_eq!(ulp_distance(1.0, next, FloatType::F32), 3);
        assert_eq!(ulp_distance(-0.0, 0.0, FloatType::F64), 0);
    }
}
