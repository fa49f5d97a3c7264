//! The number types the kernels compute in: which element types they take
//! ([`Elem`]: `float16`, `float`, `double`) and the arithmetic each runs in
//! ([`Real`]: `f32` or `f64`); the one float type of a node's operands; and
//! the vector-state reset every kernel does before its own arithmetic.

use tract_onnx::tract_hir::internal::*;

/// Clears the upper halves of the vector registers (`vzeroupper`). tract's
/// AVX kernels may return with them dirty, and then every SSE instruction of
/// ours (and of libm's `exp`) pays a state-transition penalty on Intel CPUs:
/// measured at 15-20× on this kernel when a converted model ran just before.
pub(super) fn clear_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper()
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // Safety: the CPU has AVX, checked just above.
            unsafe { zero_upper() }
        }
    }
}

/// The one float type all operands share.
pub(super) fn common_float_type(
    types: impl Iterator<Item = DatumType>,
    op: &str,
) -> TractResult<DatumType> {
    let mut found: Option<DatumType> = None;
    for (index, dt) in types.enumerate() {
        ensure!(
            matches!(dt, DatumType::F16 | DatumType::F32 | DatumType::F64),
            "{op}: input {index} has type {dt:?}, expected float16, float or double"
        );
        match found {
            None => found = Some(dt),
            Some(first) => ensure!(
                first == dt,
                "{op}: input {index} has type {dt:?}, expected {first:?} like input 0"
            ),
        }
    }
    found.with_context(|| format!("{op} has no inputs"))
}

/// The arithmetic the kernels need, in `f32` or `f64`.
pub trait Real:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    const ONE: Self;
    const ZERO: Self;
    fn exp(self) -> Self;
    fn sqrt(self) -> Self;
    /// σ of every element, as tract computes its `Sigmoid` in this type
    /// (its vectorised approximation in `f32`; tract has no `f64` sigmoid,
    /// so `1/(1+e^−z)` there).
    fn runtime_sigmoid(zs: &mut [Self]) -> TractResult<()>;
}

impl Real for f32 {
    const ONE: f32 = 1.0;
    const ZERO: f32 = 0.0;
    fn exp(self) -> f32 {
        f32::exp(self)
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    fn runtime_sigmoid(zs: &mut [f32]) -> TractResult<()> {
        tract_linalg::routines::Func::Sigmoid.ew_f32()?.run(zs)
    }
}

impl Real for f64 {
    const ONE: f64 = 1.0;
    const ZERO: f64 = 0.0;
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    fn runtime_sigmoid(zs: &mut [f64]) -> TractResult<()> {
        for z in zs {
            *z = super::reference::sigmoid(*z);
        }
        Ok(())
    }
}

/// A tensor element type and the type its arithmetic runs in.
pub trait Elem: Datum + Copy {
    /// Itself an element type (`f32` or `f64`), so that values convert to
    /// and from it as to any element type.
    type C: Real + Elem;
    fn up(self) -> Self::C;
    fn down(c: Self::C) -> Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Elem for f16 {
    type C = f32;
    fn up(self) -> f32 {
        self.to_f32()
    }
    fn down(c: f32) -> f16 {
        f16::from_f32(c)
    }
    fn from_f64(v: f64) -> f16 {
        f16::from_f64(v)
    }
    fn to_f64(self) -> f64 {
        f16::to_f64(self)
    }
}

impl Elem for f32 {
    type C = f32;
    fn up(self) -> f32 {
        self
    }
    fn down(c: f32) -> f32 {
        c
    }
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Elem for f64 {
    type C = f64;
    fn up(self) -> f64 {
        self
    }
    fn down(c: f64) -> f64 {
        c
    }
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

pub(super) fn as_f64(t: &Tensor) -> TractResult<Vec<f64>> {
    let cast = t.cast_to::<f64>()?;
    let view = cast.try_as_plain_ram()?;
    Ok(view.as_slice::<f64>()?.to_vec())
}
