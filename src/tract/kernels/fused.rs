//! The fused path for `float`: `y = x·(P·σ(a·x) + p2)` in three sweeps
//! over blocks that stay in L1, with tract's vectorised sigmoid and the two
//! element sweeps compiled for SSE2 and AVX2; and the test of whether a
//! parameter is per channel, which decides whether the path applies.
//!
//! The slices are shared out on tract-linalg's executor as tract's own
//! element-wise ops share theirs (`par_chunks_mut`: whole slices per task,
//! threaded above 32,768 elements when `--threads` installs a pool), so the
//! fused kernel goes parallel where the decomposed ops do; every element is
//! computed alone, so the result is the same bits at any thread count.

use tract_linalg::routines::Func;
use tract_onnx::tract_hir::internal::*;

/// One `(n, c)` slice's constants in `y = x·(P·σ(a·x) + p2)`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sweep {
    pub(super) a: f32,
    /// `P`.
    pub(super) scale: f32,
    pub(super) p2: f32,
}

/// The fused pass over `X = [N, C, …]`: per `(n, c)` slice, with that
/// slice's constants from `per_slice(n·C + c)`,
///
/// ```text
/// y = a·x;  y = σ(y);  y = x·(P·y + p2)
/// ```
///
/// three sweeps over a block of whole slices that stays in L1, so one pass
/// over memory, with tract's vectorised sigmoid.
pub(super) fn fused_sweeps(
    x: &[f32],
    x_shape: &[usize],
    per_slice: impl Fn(usize) -> Sweep + Sync + Send,
) -> TractResult<Tensor> {
    let spatial: usize = x_shape[2..].iter().product();
    // Written straight into tract's aligned storage: building a Vec and
    // converting it would copy the whole output once more, and zeroing it
    // first would be one more pass over memory.
    // SAFETY: `fill_fused` covers every element (n·c slices of `spatial`;
    // none when X is empty), and in each block `scale` writes every element
    // before `sigmoid` and `gate` read any.
    let mut y = unsafe { Tensor::uninitialized::<f32>(x_shape)? };
    let mut plain = y.try_as_plain_ram_mut()?;
    let out = plain.as_slice_mut::<f32>()?;
    let len = spatial.max(1);
    let total = out.len();
    tract_linalg::multithread::par_chunks_mut(out, len, total, |first, chunk| {
        let xs = &x[first * len..first * len + chunk.len()];
        fill_fused(chunk, xs, spatial, |k| per_slice(first + k))
    })?;
    Ok(y)
}

/// The loop of [`fused_sweeps`], writing `out` (as long as `x`).
fn fill_fused(
    out: &mut [f32],
    x: &[f32],
    spatial: usize,
    per_slice: impl Fn(usize) -> Sweep,
) -> TractResult<()> {
    let sigmoid = Func::Sigmoid.ew_f32()?;
    let sweeps = Sweeps::detect();
    let len = spatial.max(1);
    // Slices are taken a block at a time, so that a small `spatial` (7×7
    // late in a network) does not pay the sigmoid's call per slice.
    let per_block = (FUSED_BLOCK / len).max(1);
    for (block, (ys, xs)) in out
        .chunks_mut(len * per_block)
        .zip(x.chunks(len * per_block))
        .enumerate()
    {
        let first = block * per_block;
        for (k, (ys, xs)) in ys
            .chunks_exact_mut(len)
            .zip(xs.chunks_exact(len))
            .enumerate()
        {
            sweeps.scale(ys, xs, per_slice(first + k).a);
        }
        sigmoid.run(ys)?;
        for (k, (ys, xs)) in ys
            .chunks_exact_mut(len)
            .zip(xs.chunks_exact(len))
            .enumerate()
        {
            let Sweep { scale, p2, .. } = per_slice(first + k);
            sweeps.gate(ys, xs, scale, p2);
        }
    }
    Ok(())
}

/// Elements per block of the fused path: 16 KiB of `f32`, which stays in L1
/// between its three sweeps.
pub(super) const FUSED_BLOCK: usize = 4096;

/// The two element sweeps of the fused path, compiled twice: for the
/// baseline x86-64 (SSE2, 4 lanes) and, chosen at run time, for AVX2 (8
/// lanes), the width tract's own kernels use. Same arithmetic either way (no
/// FMA contraction), so the result does not depend on the CPU.
#[derive(Clone, Copy)]
struct Sweeps {
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

impl Sweeps {
    fn detect() -> Sweeps {
        Sweeps {
            #[cfg(target_arch = "x86_64")]
            avx2: std::arch::is_x86_feature_detected!("avx2"),
        }
    }

    /// `y = a·x`, element by element.
    fn scale(self, ys: &mut [f32], xs: &[f32], a: f32) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the CPU has AVX2, detected above.
            return unsafe { scale_avx2(ys, xs, a) };
        }
        scale(ys, xs, a)
    }

    /// `y = x·(p·y + q)`, element by element.
    fn gate(self, ys: &mut [f32], xs: &[f32], p: f32, q: f32) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the CPU has AVX2, detected above.
            return unsafe { gate_avx2(ys, xs, p, q) };
        }
        gate(ys, xs, p, q)
    }
}

#[inline(always)]
fn scale(ys: &mut [f32], xs: &[f32], a: f32) {
    for (y, &x) in ys.iter_mut().zip(xs) {
        *y = a * x;
    }
}

#[inline(always)]
fn gate(ys: &mut [f32], xs: &[f32], p: f32, q: f32) {
    for (y, &x) in ys.iter_mut().zip(xs) {
        *y = x * (p * *y + q);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scale_avx2(ys: &mut [f32], xs: &[f32], a: f32) {
    scale(ys, xs, a)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn gate_avx2(ys: &mut [f32], xs: &[f32], p: f32, q: f32) {
    gate(ys, xs, p, q)
}

/// A parameter's value per channel of `X = [N, C, …]` when it varies along
/// the channel axis only (or not at all); `None` otherwise.
pub(super) fn channel_values(shape: &[usize], data: &[f32], x_shape: &[usize]) -> Option<Vec<f32>> {
    let c = x_shape[1];
    let pad = x_shape.len().checked_sub(shape.len())?;
    let per_channel = shape
        .iter()
        .enumerate()
        .all(|(i, &d)| d == 1 || (pad + i == 1 && d == c));
    match data.len() {
        _ if !per_channel => None,
        1 => Some(vec![data[0]; c]),
        len if len == c => Some(data.to_vec()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tract_linalg::multithread::{Executor, multithread_tract_scope};

    /// Issue 14: above tract's element threshold the fused pass runs on the
    /// executor's pool, as tract's element-wise ops do, and gives the bits
    /// it gives on one thread.
    #[test]
    fn the_fused_pass_runs_on_the_pool_and_gives_the_same_bits() {
        let x_shape = [2, 16, 48, 48]; // 73,728 elements, over 32,768
        let x: Vec<f32> = (0..73_728)
            .map(|i| ((i as f32) * 0.01).sin() * 4.0)
            .collect();
        let threads = Mutex::new(std::collections::HashSet::new());
        let sweep = |slice: usize| {
            threads.lock().unwrap().insert(std::thread::current().id());
            Sweep {
                a: 0.5 + slice as f32 * 0.01,
                scale: 1.5,
                p2: 0.25,
            }
        };
        let one =
            multithread_tract_scope(Executor::SingleThread, || fused_sweeps(&x, &x_shape, sweep))
                .unwrap();
        assert_eq!(
            *threads.lock().unwrap(),
            [std::thread::current().id()].into_iter().collect()
        );
        threads.lock().unwrap().clear();
        let two = multithread_tract_scope(Executor::multithread(2), || {
            fused_sweeps(&x, &x_shape, sweep)
        })
        .unwrap();
        let caller = std::thread::current().id();
        assert!(threads.lock().unwrap().iter().all(|t| *t != caller));
        assert_eq!(one.as_bytes(), two.as_bytes());
    }

    #[test]
    fn parameters_varying_along_another_axis_leave_the_fused_path() {
        let x_shape = [1, 3, 2, 2];
        assert_eq!(
            channel_values(&[1, 3, 1, 1], &[1.0, 2.0, 3.0], &x_shape),
            Some(vec![1.0, 2.0, 3.0])
        );
        assert_eq!(channel_values(&[1], &[5.0], &x_shape), Some(vec![5.0; 3]));
        assert_eq!(
            channel_values(&[3, 1, 1], &[1.0, 2.0, 3.0], &x_shape),
            Some(vec![1.0, 2.0, 3.0])
        );
        assert_eq!(channel_values(&[1, 1, 2, 1], &[1.0, 2.0], &x_shape), None);
        assert_eq!(channel_values(&[2], &[1.0, 2.0], &x_shape), None);
    }
}
