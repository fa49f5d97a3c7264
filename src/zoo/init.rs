//! Seeded, PyTorch-like initialisation without a dependency: the
//! distributions `torch.nn` uses by default, drawn from the crate's one
//! generator ([`crate::rng::Rng`], splitmix64).
//!
//! PyTorch initialises `Conv2d` and `Linear` weights with
//! `kaiming_uniform_(a=√5)`, which is `U(−1/√fan_in, 1/√fan_in)`, and their
//! biases with the same bound. BatchNorm gets *trained-looking* statistics
//! instead of PyTorch's (1, 0, 0, 1) so that BatchNorm folding is exercised:
//! a freshly initialised BatchNorm is the identity and hides folding bugs.

pub use crate::rng::Rng;

/// `kaiming_uniform_(a=√5)` as `torch.nn.Conv2d` and `Linear` use it:
/// `U(−1/√fan_in, 1/√fan_in)`.
pub fn kaiming_uniform(rng: &mut Rng, n: usize, fan_in: usize) -> Vec<f64> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    rng.uniform_vec(n, -bound, bound)
}

/// BatchNorm parameters and running statistics in the order ONNX takes them:
/// scale, bias, mean, var, for an input of variance about `variance`. The
/// statistics look trained: the variance is `variance` within ±25%, the mean
/// a tenth of a standard deviation off zero, so the output stays near unit
/// scale however deep the network, while folding still has work to do.
pub fn batch_norm(rng: &mut Rng, c: usize, variance: f64) -> [Vec<f64>; 4] {
    let sd = variance.sqrt();
    [
        rng.uniform_vec(c, 0.5, 1.5),
        rng.normal_vec(c, 0.0, 0.1),
        rng.normal_vec(c, 0.0, 0.1 * sd),
        rng.uniform_vec(c, 0.8, 1.25)
            .into_iter()
            .map(|f| f * variance)
            .collect(),
    ]
}
