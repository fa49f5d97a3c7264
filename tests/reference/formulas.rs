//! The ACON formulas of `docs/acon-ops.md` in f64 on whole arrays: what a
//! converted chain must compute.

use acon_onnx::model::tensor::Array;

/// MetaAconC's `epsilon`; an ONNX float attribute is an f32.
pub const EPSILON: f32 = 1e-3;

pub(super) fn one() -> Array {
    Array::scalar(1.0)
}

pub(super) fn zero() -> Array {
    Array::scalar(0.0)
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

pub(super) fn zip(a: &Array, b: &Array, f: impl Fn(f64, f64) -> f64) -> Array {
    a.zip(b, f).expect("shapes broadcast")
}

/// `Y = (p1 − p2)·X·σ(β·(p1 − p2)·X) + p2·X`
pub fn acon_c(x: &Array, p1: &Array, p2: &Array, beta: &Array) -> Array {
    let d = zip(&zip(p1, p2, |a, b| a - b), x, |p, x| p * x);
    let gate = zip(beta, &d, |b, d| sigmoid(b * d));
    zip(
        &zip(&d, &gate, |d, s| d * s),
        &zip(p2, x, |p, x| p * x),
        |a, b| a + b,
    )
}

/// Meta-ACON's switching factor on `X = [N, C, D1, …, Dk]`:
///
/// ```text
/// m = mean of X over D1..Dk                      [N, C]
/// h = BN1(W1·m + B1),  g = BN2(W2·h + B2)        (1×1 convs as matrix products)
/// β = σ(g)                                       [N, C, 1, …, 1]
/// BN(z) = scale·(z − mean)/sqrt(var + ε) + bias
/// ```
pub(super) fn meta_beta(
    x: &Array,
    w1: &Array,
    b1: &Array,
    w2: &Array,
    b2: &Array,
    bn1: Option<[Array; 4]>,
    bn2: Option<[Array; 4]>,
) -> Array {
    let (n, c) = (x.dims[0], x.dims[1]);
    let spatial: usize = x.dims[2..].iter().product();
    let m: Vec<f64> = (0..n * c)
        .map(|nc| x.data[nc * spatial..(nc + 1) * spatial].iter().sum::<f64>() / spatial as f64)
        .collect();
    let h = conv_bn(&m, n, w1, b1, bn1.as_ref());
    let g = conv_bn(&h, n, w2, b2, bn2.as_ref());
    let mut dims = vec![n, c];
    dims.extend(std::iter::repeat_n(1, x.dims.len() - 2));
    Array {
        dims,
        data: g.into_iter().map(sigmoid).collect(),
    }
}

/// `BN(W·z + B)` for each of the `n` rows of `z`.
pub(super) fn conv_bn(
    z: &[f64],
    n: usize,
    w: &Array,
    b: &Array,
    bn: Option<&[Array; 4]>,
) -> Vec<f64> {
    let (out, inp) = (w.dims[0], w.dims[1]);
    let mut result = Vec::with_capacity(n * out);
    for row in z.chunks(inp).take(n) {
        for o in 0..out {
            let mut v = b.data[o] + (0..inp).map(|i| w.data[o * inp + i] * row[i]).sum::<f64>();
            if let Some([scale, bias, mean, var]) = bn {
                v = scale.data[o] * (v - mean.data[o]) / (var.data[o] + EPSILON as f64).sqrt()
                    + bias.data[o];
            }
            result.push(v);
        }
    }
    result
}
