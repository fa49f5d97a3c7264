//! One output compared under the end-to-end rule: the bounds of the
//! tolerance level (or `--atol`/`--rtol`), widened by [`NOISE_FACTOR`]
//! times the model's rounding noise when calibrated.

use tract_onnx::prelude::*;

use super::report::Check;
use super::{NOISE_FACTOR, VerifyOptions};
use crate::compare::compare;
use crate::model::tensor::FloatType;
use crate::tract::error::Result;
use crate::tract::tensor::{datum_name, float_type, tensor_to_f64};

/// `(atol, rtol)` for an output of type `dt`: the options' bounds, atol
/// widened by [`NOISE_FACTOR`] times the model's noise when calibrated.
pub(super) fn bounds(options: &VerifyOptions, dt: DatumType, noise: Option<f64>) -> (f64, f64) {
    let (atol, rtol) = options.bounds(dt);
    (atol + NOISE_FACTOR * noise.unwrap_or(0.0), rtol)
}

/// The largest difference between two evaluations of one output (NaN and
/// infinities left out: the comparison counts those itself).
pub(super) fn noise_between(a: &Tensor, b: &Tensor) -> Option<f64> {
    let (a, b) = (tensor_to_f64(a).ok()?, tensor_to_f64(b).ok()?);
    if a.len() != b.len() {
        return None;
    }
    Some(
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .filter(|d| d.is_finite())
            .fold(0.0, f64::max),
    )
}

/// Test data stores expected outputs in the model's type; if not, compare
/// in the type the model computes.
pub(super) fn expected_as(expected: &Tensor, like: &Tensor) -> Tensor {
    if expected.datum_type() == like.datum_type() {
        return expected.clone();
    }
    expected
        .cast_to_dt(like.datum_type())
        .map(|t| t.into_owned())
        .unwrap_or_else(|_| expected.clone())
}

pub(super) fn check(
    sample: usize,
    actual_side: &'static str,
    expected_side: &'static str,
    actual: &Tensor,
    expected: &Tensor,
    options: &VerifyOptions,
    noise: Option<f64>,
) -> Result<Check> {
    let rule = if options.atol.is_some() || options.rtol.is_some() {
        "--atol/--rtol".to_owned()
    } else {
        match noise {
            Some(n) => format!(
                "{} + {NOISE_FACTOR} × noise {n:.2e}",
                options.tolerance.name()
            ),
            None => options.tolerance.name().to_owned(),
        }
    };
    let mut c = Check {
        sample,
        actual: actual_side,
        expected: expected_side,
        shape: expected.shape().to_vec(),
        passed: false,
        problem: None,
        worst_coords: None,
        comparison: None,
        rule,
    };
    if actual.shape() != expected.shape() {
        c.problem = Some(format!(
            "shape {:?} differs from {:?}",
            actual.shape(),
            expected.shape()
        ));
        return Ok(c);
    }
    if actual.datum_type() != expected.datum_type() {
        c.problem = Some(format!(
            "type {} differs from {}",
            datum_name(actual.datum_type()),
            datum_name(expected.datum_type())
        ));
        return Ok(c);
    }
    let (atol, rtol) = bounds(options, expected.datum_type(), noise);
    let ty = float_type(expected.datum_type()).unwrap_or(FloatType::F64);
    let a = tensor_to_f64(actual)?;
    let e = tensor_to_f64(expected)?;
    let cmp = compare(&a, &e, ty, atol, rtol);
    c.passed = cmp.passed;
    c.worst_coords = cmp.worst_index.map(|i| coords(i, expected.shape()));
    c.comparison = Some(cmp);
    Ok(c)
}

/// Row-major coordinates of flat index `i`.
fn coords(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut out = vec![0; shape.len()];
    for (axis, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            out[axis] = i % d;
            i /= d;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_indices_become_coordinates() {
        assert_eq!(coords(0, &[2, 3]), vec![0, 0]);
        assert_eq!(coords(5, &[2, 3]), vec![1, 2]);
        assert_eq!(coords(7, &[2, 2, 2]), vec![1, 1, 1]);
        assert!(coords(0, &[]).is_empty());
    }
}
