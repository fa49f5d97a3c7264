//! What the kernels' tests share: σ in `f64` and the fused-vs-reference
//! comparison.

use tract_onnx::tract_hir::internal::*;

pub(super) fn sig(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `fused` agrees with `reference` element by element within 1e-5 + 1e-4·|reference|.
pub(super) fn assert_close(reference: &TValue, fused: &TValue, what: &str) -> TractResult<()> {
    let (a, b) = (
        reference.to_plain_array_view::<f32>()?,
        fused.to_plain_array_view::<f32>()?,
    );
    assert_eq!(a.shape(), b.shape(), "{what}");
    for (i, (a, b)) in a.iter().zip(b.iter()).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 + 1e-4 * a.abs(),
            "{what}, element {i}: {a} vs {b}"
        );
    }
    Ok(())
}
