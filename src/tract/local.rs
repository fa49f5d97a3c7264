//! The local proof of each ACON region: CONVERTED's nodes for the region,
//! on plain tract, against the reference kernel written from the spec, on
//! the same input tensors, at the `close` tolerance of the region's type,
//! its atol widened by [`NOISE_FACTOR`] times the op's own rounding noise
//! on those inputs (the fused kernel's distance from the reference): with
//! large inputs Meta-ACON's output is ill-conditioned in β (`∂y/∂β` grows
//! as `x²`), so any float evaluation moves by more than `close` there, while
//! a wrong parameter or op moves it by orders of magnitude more.
//!
//! Each region is fed twice:
//!
//! - with the tensors that reach it in ORIGINAL on each sample, taken afresh
//!   at every region, so no error from earlier layers accumulates into it
//!   (main-graph regions only: values inside subgraphs are not observable);
//! - once with stress inputs of its own ([`stress_values`]): zeros of both
//!   signs, tiny, ordinary and large values of both signs, out to where σ
//!   saturates, every channel seeing every value. These need no run of the
//!   whole model, so they also check regions in `If` branches the inputs do
//!   not take and in `Loop` bodies tract cannot run.

use std::path::Path;

use serde::Serialize;
use tract_onnx::prelude::*;

use crate::compare::{Comparison, Tolerance, compare};
use crate::model::tensor::{Array, FloatType, float_tensor};
use crate::passes::ConvertOptions;
use crate::tract::engine::{Kernels, TractModel};
use crate::tract::error::chain;
use crate::tract::regions::Region;
use crate::tract::tensor::{tensor_from_proto, tensor_to_f64};
use crate::tract::verify::NOISE_FACTOR;
use crate::tract::widen::{to_f64, widen_input};

/// The stress values, each met by every channel: see the module doc.
const STRESS: [f64; 18] = [
    0.0, -0.0, 1e-3, -1e-3, 0.25, -0.25, 1.0, -1.0, 2.5, -2.5, 6.0, -6.0, 15.0, -15.0, 40.0, -40.0,
    90.0, -90.0,
];

/// One comparison of a region's two models.
#[derive(Debug, Clone, Serialize)]
pub struct LocalCheck {
    /// `original` (the tensors of a sample) or `stress`.
    pub input: &'static str,
    pub sample: Option<usize>,
    /// The smallest and largest input value.
    pub range: Option<[f64; 2]>,
    pub shape: Vec<usize>,
    /// `f64` when both sides ran promoted to f64, else `model` (the model's
    /// type, with the noise allowance below). Either way the bound is
    /// `close` for the model's type: the rewrite stores what it folds in
    /// that type.
    pub precision: &'static str,
    pub passed: bool,
    pub problem: Option<String>,
    /// The largest distance between the fused and the reference kernel on
    /// the same inputs; the bound's atol is `close`'s plus
    /// [`NOISE_FACTOR`] times this.
    pub noise: Option<f64>,
    pub comparison: Option<Comparison>,
}

/// What verify found of one region.
#[derive(Debug, Clone, Serialize)]
pub struct RegionReport {
    pub output: String,
    pub op_type: String,
    pub node: String,
    /// Empty for the main graph.
    pub graph: String,
    pub aligned: bool,
    /// Why the region could not be aligned or checked.
    pub problem: Option<String>,
    pub passed: bool,
    pub checks: Vec<LocalCheck>,
}

/// A region with its two models loaded in tract.
pub struct LocalRegion {
    pub region: Region,
    /// Both sides promoted to f64, where tract runs them so: the check then
    /// tests the function, not the rounding ([`to_f64`]).
    exact: Option<(TractModel, TractModel)>,
    reference: Result<TractModel, String>,
    /// The same node on the fused kernels: a second, equally valid rounding
    /// of the op, whose distance from the reference is the op's own noise
    /// on these inputs.
    fused: Option<TractModel>,
    candidate: Result<TractModel, String>,
}

impl LocalRegion {
    pub fn load(region: Region, path: &Path, options: &ConvertOptions) -> LocalRegion {
        let reference = TractModel::new(
            region.reference.clone(),
            path,
            "the reference kernel of a region of",
            Kernels::Reference,
            options,
        )
        .map_err(|e| chain(&e));
        let fused = TractModel::new(
            region.reference.clone(),
            path,
            "the fused kernel of a region of",
            Kernels::Native,
            options,
        )
        .ok();
        let candidate = match &region.candidate {
            Ok(m) => TractModel::new(
                m.clone(),
                path,
                "a region of CONVERTED in",
                Kernels::Plain,
                options,
            )
            .map_err(|e| chain(&e)),
            Err(why) => Err(why.clone()),
        };
        let exact = match &region.candidate {
            Ok(c) => to_f64(&region.reference).zip(to_f64(c)).and_then(|(r, c)| {
                let r = TractModel::new(r, path, "a region in f64 of", Kernels::Reference, options);
                let c = TractModel::new(
                    c,
                    path,
                    "a region of CONVERTED in f64, in",
                    Kernels::Plain,
                    options,
                );
                r.ok().zip(c.ok())
            }),
            Err(_) => None,
        };
        LocalRegion {
            region,
            exact,
            reference,
            fused,
            candidate,
        }
    }

    /// A fresh report, before any check.
    pub fn report(&self) -> RegionReport {
        let problem = match (&self.region.candidate, &self.candidate, &self.reference) {
            (Err(why), _, _) => Some(format!("not aligned: {why}")),
            (_, Err(why), _) => Some(why.clone()),
            (_, _, Err(why)) => Some(why.clone()),
            _ => None,
        };
        RegionReport {
            output: self.region.output.clone(),
            op_type: self.region.op_type.clone(),
            node: self.region.node.clone(),
            graph: self.region.graph.clone(),
            aligned: self.region.candidate.is_ok(),
            passed: problem.is_none(),
            problem,
            checks: vec![],
        }
    }

    /// Compares the two models on `inputs`.
    pub fn check(
        &self,
        input: &'static str,
        sample: Option<usize>,
        inputs: &[Tensor],
    ) -> LocalCheck {
        let mut c = LocalCheck {
            input,
            sample,
            range: range(inputs.first()),
            shape: inputs
                .first()
                .map(|t| t.shape().to_vec())
                .unwrap_or_default(),
            precision: "model",
            passed: false,
            problem: None,
            noise: None,
            comparison: None,
        };
        let (Ok(reference), Ok(candidate)) = (&self.reference, &self.candidate) else {
            c.problem = Some("the region's models could not be loaded".into());
            return c;
        };
        let run_on = |m: &TractModel, inputs: &[Tensor]| -> Result<Vec<f64>, String> {
            let out = m.run(inputs).map_err(|e| chain(&e))?;
            let first = out.first().ok_or("no output")?;
            tensor_to_f64(first).map_err(|e| e.to_string())
        };
        let run = |m: &TractModel| run_on(m, inputs);
        // The op's own rounding noise on these inputs, in the model's type.
        let noise = match (self.fused.as_ref().map(run), run(reference)) {
            (Some(Ok(f)), Ok(r)) if f.len() == r.len() => f
                .iter()
                .zip(&r)
                .map(|(a, b)| (a - b).abs())
                .filter(|d| d.is_finite())
                .fold(0.0, f64::max),
            _ => 0.0,
        };
        c.noise = Some(noise);
        if let Some((reference, candidate)) = &self.exact {
            let wide: Vec<Tensor> = inputs.iter().map(widen_input).collect();
            if let (Ok(want), Ok(got)) = (run_on(reference, &wide), run_on(candidate, &wide))
                && want.len() == got.len()
            {
                // Computed in f64, the two differ only by the constants the
                // rewrite folded and stored in the model's type, which the
                // op's own noise in that type bounds.
                let (atol, rtol) = Tolerance::Close.bounds(self.region.dtype);
                let atol = atol + NOISE_FACTOR * noise;
                let cmp = compare(&got, &want, FloatType::F64, atol, rtol);
                c.precision = "f64";
                c.passed = cmp.passed;
                c.comparison = Some(cmp);
                return c;
            }
        }
        c.precision = "model";
        match (run(reference), run(candidate)) {
            (Ok(want), Ok(got)) => {
                if want.len() != got.len() {
                    c.problem = Some(format!(
                        "CONVERTED's region gives {} values, the kernel {}",
                        got.len(),
                        want.len()
                    ));
                    return c;
                }
                let ty = self.region.dtype;
                let (atol, rtol) = Tolerance::Close.bounds(ty);
                let cmp = compare(&got, &want, ty, atol + NOISE_FACTOR * noise, rtol);
                c.passed = cmp.passed;
                c.comparison = Some(cmp);
            }
            (Err(e), _) => c.problem = Some(format!("the reference kernel failed: {e}")),
            (_, Err(e)) => c.problem = Some(format!("CONVERTED's region failed: {e}")),
        }
        c
    }

    /// The stress check, when the region's input shape can be made up: one
    /// computed input (X), whose rank and channel count are known.
    pub fn stress(&self) -> Option<LocalCheck> {
        if self.region.inputs.len() != 1 {
            return None;
        }
        let (rank, channels) = (self.region.rank?, self.region.channels?);
        let x = stress_values(rank, channels)?;
        let t = float_tensor(&self.region.inputs[0], &x, self.region.dtype);
        let tensor = tensor_from_proto(&t).ok()?;
        Some(self.check("stress", None, &[tensor]))
    }
}

/// `[2, C, 3, 5]` (rank 4; `[2, C, 15]` for rank 3, `[18, C]` for rank 2,
/// more ones beyond rank 4) holding [`STRESS`] so that each channel meets
/// every value.
pub fn stress_values(rank: usize, channels: usize) -> Option<Array> {
    if rank < 2 || channels == 0 || channels > 1 << 16 {
        return None;
    }
    // Rank 2 is [N, C]: the batch axis carries the values.
    let batch = if rank == 2 { STRESS.len() } else { 2 };
    let mut dims = vec![batch, channels];
    match rank {
        2 => {}
        3 => dims.push(15),
        _ => {
            dims.extend([3, 5]);
            dims.extend(std::iter::repeat_n(1, rank - 4));
        }
    }
    let per_channel: usize = dims[2..].iter().product();
    let n = STRESS.len();
    let mut data = Vec::with_capacity(batch * channels * per_channel);
    for b in 0..batch {
        for c in 0..channels {
            for k in 0..per_channel {
                // A stride coprime with the list's length walks all of it.
                data.push(STRESS[(c + 7 * (b * per_channel + k)) % n]);
            }
        }
    }
    Some(Array { dims, data })
}

fn range(t: Option<&Tensor>) -> Option<[f64; 2]> {
    let v = tensor_to_f64(t?).ok()?;
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo <= hi).then_some([lo, hi])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_meets_every_stress_value() {
        for rank in [2, 3, 4, 5] {
            let a = stress_values(rank, 3).unwrap();
            let per_channel: usize = a.dims[2..].iter().product();
            let batch = a.dims[0];
            for c in 0..3 {
                let mut seen = vec![false; STRESS.len()];
                for b in 0..batch {
                    for k in 0..per_channel {
                        let v = a.data[(b * 3 + c) * per_channel + k];
                        for (i, s) in STRESS.iter().enumerate() {
                            if v.to_bits() == s.to_bits() {
                                seen[i] = true;
                            }
                        }
                    }
                }
                assert!(seen.iter().all(|&s| s), "rank {rank} channel {c}");
            }
        }
    }
}
