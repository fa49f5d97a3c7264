//! numpy (ONNX multidirectional) broadcasting for the reference path: one
//! pass over the output with every operand's strides, adjacent axes merged
//! so that per-channel parameters stay fixed along the inner loop.

use tract_onnx::tract_hir::internal::*;

use super::numbers::Elem;

/// One operand of an element-wise kernel: row-major data and its shape.
#[derive(Clone, Copy)]
pub(super) struct Operand<'a, T> {
    pub(super) data: &'a [T],
    pub(super) shape: &'a [usize],
}

/// `f` applied element-wise over `out`, each operand broadcast to it under
/// numpy rules (missing leading axes and size-1 axes repeat), in one pass.
///
/// Adjacent axes along which every operand is either contiguous or repeated
/// are merged first, so that `X [N, C, H, W]` with `p [1, C, 1, 1]` runs as
/// `N·C` inner loops of length `H·W` with the parameters fixed.
pub(super) fn broadcast_map<T: Elem, const K: usize>(
    ops: [Operand<'_, T>; K],
    out: &[usize],
    f: impl Fn([T::C; K]) -> T::C,
) -> TractResult<Vec<T>> {
    let rank = out.len();
    let mut strides = vec![[0usize; K]; rank];
    for (k, op) in ops.iter().enumerate() {
        ensure!(
            op.shape.len() <= rank,
            "operand {k} of shape {:?} has a higher rank than the output {out:?}",
            op.shape
        );
        let pad = rank - op.shape.len();
        let mut stride = 1usize;
        for (i, &d) in op.shape.iter().enumerate().rev() {
            ensure!(
                d == out[pad + i] || d == 1,
                "operand {k} of shape {:?} does not broadcast to {out:?}",
                op.shape
            );
            strides[pad + i][k] = if d == 1 { 0 } else { stride };
            stride *= d;
        }
        ensure!(
            op.data.len() == stride,
            "operand {k} holds {} values for shape {:?}",
            op.data.len(),
            op.shape
        );
    }
    let mut axes: Vec<(usize, [usize; K])> = Vec::with_capacity(rank);
    for (&extent, st) in out.iter().zip(&strides) {
        if extent == 1 {
            continue;
        }
        match axes.last_mut() {
            Some(last) if (0..K).all(|k| last.1[k] == st[k] * extent) => {
                last.0 *= extent;
                last.1 = *st;
            }
            _ => axes.push((extent, *st)),
        }
    }
    let total: usize = out.iter().product();
    let mut y = Vec::with_capacity(total);
    if total == 0 {
        return Ok(y);
    }
    let (inner, inner_strides) = axes.pop().unwrap_or((1, [0; K]));
    let mut index = vec![0usize; axes.len()];
    let mut base = [0usize; K];
    loop {
        for j in 0..inner {
            let v: [T::C; K] =
                std::array::from_fn(|k| ops[k].data[base[k] + j * inner_strides[k]].up());
            y.push(T::down(f(v)));
        }
        // Advance the outer odometer, innermost axis first.
        let mut axis = axes.len();
        loop {
            if axis == 0 {
                return Ok(y);
            }
            axis -= 1;
            let (extent, st) = axes[axis];
            index[axis] += 1;
            for k in 0..K {
                base[k] += st[k];
            }
            if index[axis] < extent {
                break;
            }
            for k in 0..K {
                base[k] -= st[k] * extent;
            }
            index[axis] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op<'a>(data: &'a [f64], shape: &'a [usize]) -> Operand<'a, f64> {
        Operand { data, shape }
    }

    #[test]
    fn broadcasting_follows_numpy() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let p = [10.0, 20.0];
        let q = [100.0, 200.0, 300.0];
        let y = broadcast_map(
            [op(&x, &[2, 3]), op(&p, &[2, 1]), op(&q, &[3])],
            &[2, 3],
            |[x, p, q]| x + p + q,
        )
        .unwrap();
        assert_eq!(y, vec![111.0, 212.0, 313.0, 124.0, 225.0, 326.0]);
        assert!(broadcast_map([op(&x, &[2, 3]), op(&p, &[2])], &[2, 3], |[a, b]| a + b).is_err());
    }
}
