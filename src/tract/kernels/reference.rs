//! The reference arithmetic, straight from the spec: the three element-wise
//! formulas and σ, in `f32` or `f64` ([`Real`]), and MetaAconC's small
//! branch helpers (a mean and a dot product, in `f64` for the reference).

use super::numbers::{Elem, Real};

// acon_a(x) = x·σ(β·x)
pub(super) fn acon_a<C: Real>(x: C, beta: C) -> C {
    x * sigmoid(beta * x)
}

// acon_b(x) = (1 − p)·x·σ(β·(1 − p)·x) + p·x
pub(super) fn acon_b<C: Real>(x: C, p: C, beta: C) -> C {
    let d = (C::ONE - p) * x;
    d * sigmoid(beta * d) + p * x
}

// acon_c(x) = (p1 − p2)·x·σ(β·(p1 − p2)·x) + p2·x
pub(super) fn acon_c<C: Real>(x: C, p1: C, p2: C, beta: C) -> C {
    let d = (p1 - p2) * x;
    d * sigmoid(beta * d) + p2 * x
}

// σ(z) = 1 / (1 + e^−z); e^−z overflows to +inf for very negative z, which
// gives the correct limit 0.
pub(super) fn sigmoid<C: Real>(z: C) -> C {
    C::ONE / (C::ONE + (-z).exp())
}

/// `Σ w[i]·v[i]` in `A` (`f64` for the reference, the arithmetic type for
/// the working-precision evaluation), with four running sums so that the
/// adds do not wait on one another.
pub(super) fn dot<T: Elem, A: Real + Elem>(w: &[T], v: &[A]) -> A {
    let mut lanes = [A::ZERO; 4];
    let (w_chunks, v_chunks) = (w.chunks_exact(4), v.chunks_exact(4));
    let rest = w_chunks
        .remainder()
        .iter()
        .zip(v_chunks.remainder())
        .fold(A::ZERO, |sum, (w, &v)| sum + A::from_f64(w.to_f64()) * v);
    for (ws, vs) in w_chunks.zip(v_chunks) {
        for ((lane, w), &v) in lanes.iter_mut().zip(ws).zip(vs) {
            *lane = *lane + A::from_f64(w.to_f64()) * v;
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest
}

/// The mean of `xs` in `A`. Eight running sums instead of one: the adds no
/// longer wait on each other, which makes the mean as fast as the memory.
pub(super) fn mean<T: Elem, A: Real + Elem>(xs: &[T]) -> A {
    let mut lanes = [A::ZERO; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks
        .remainder()
        .iter()
        .fold(A::ZERO, |sum, v| sum + A::from_f64(v.to_f64()));
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane = *lane + A::from_f64(v.to_f64());
        }
    }
    (lanes.iter().fold(A::ZERO, |sum, &l| sum + l) + rest) / A::from_f64(xs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_match_the_spec_at_known_points() {
        // AconC with p1 = p2 is linear: p2·x.
        assert_eq!(acon_c(3.0f64, 0.5, 0.5, 2.0), 1.5);
        // AconA with β = 0 is x/2.
        assert_eq!(acon_a(4.0f64, 0.0), 2.0);
        // AconB(p) is AconC(1, p).
        let (x, p, b) = (0.7f64, -0.3, 1.3);
        assert!((acon_b(x, p, b) - acon_c(x, 1.0, p, b)).abs() < 1e-15);
        // Large negative arguments give 0, not NaN.
        assert_eq!(sigmoid(-1e4f32), 0.0);
    }
}
