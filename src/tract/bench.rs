//! `bench`: latency of one model, or of two side by side.
//!
//! In run order: load MODEL (and OTHER) for tract as `run` does, make one
//! input sample (the input options of `verify`), prepare each plan and one
//! execution state, run `warmup` untimed passes, then `runs` timed ones.
//! With OTHER the two alternate within each round, the order swapping every
//! round so that neither always runs on a warm cache; each round gives the
//! ratio OTHER/MODEL, which cancels slow drifts of the machine.
//! `plain` runs both on plain tract; `vs_native` then gives OTHER the
//! native kernels back, so that one model can be timed against itself with
//! and without them in one process (issue 12's benchmark).
//!
//! Threads: tract-linalg's executor runs matrix products and, above 32,768
//! elements, tract's element-wise, binary, reduce and depthwise ops and our
//! fused ACON kernels. [`set_threads`] makes it a rayon pool of N threads
//! for the whole process (`--threads N`); the default, 1, is tract's own
//! single-threaded executor.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use tract_onnx::prelude::*;

use crate::passes::ConvertOptions;
use crate::tract::engine::{Kernels, TractModel, guarded, match_names};
use crate::tract::error::{OptionError, Result, TractStep};
use crate::tract::inputs::{InputOptions, samples};

/// What `bench` is asked.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub convert: ConvertOptions,
    pub inputs: InputOptions,
    pub runs: usize,
    pub warmup: usize,
    /// A second model to run alternately on the same inputs.
    pub vs: Option<PathBuf>,
    /// Threads for tract's executor (see [`set_threads`]).
    pub threads: usize,
    /// Run both models' standard ops as they are, on plain tract: no
    /// native kernels for recognised blocks (a custom op is then an error).
    pub plain: bool,
    /// With `plain`, OTHER still takes the native kernels: MODEL on plain
    /// tract against OTHER on the native ones, interleaved.
    pub vs_native: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            convert: ConvertOptions::default(),
            inputs: InputOptions::default(),
            runs: 50,
            warmup: 5,
            vs: None,
            threads: 1,
            plain: false,
            vs_native: false,
        }
    }
}

/// Latency statistics of one model, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub model: String,
    pub native_nodes: usize,
    pub median_ms: f64,
    pub p10_ms: f64,
    pub p90_ms: f64,
    pub min_ms: f64,
    /// Runs per second at the median latency.
    pub runs_per_s: f64,
    /// Batch items (the first input's first dim) per second at the median.
    pub items_per_s: f64,
}

/// The per-round ratio OTHER / MODEL.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub inputs: String,
    pub batch: usize,
    pub runs: usize,
    pub warmup: usize,
    pub threads: usize,
    pub model: Timing,
    pub vs: Option<Timing>,
    pub ratio: Option<Ratio>,
}

impl BenchReport {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "bench: {} timed runs after {} warm-up, inputs {} (batch {}), {}",
            self.runs,
            self.warmup,
            self.inputs,
            self.batch,
            match self.threads {
                1 => "one thread".to_owned(),
                n => format!("{n} threads"),
            }
        );
        let rows: Vec<&Timing> = std::iter::once(&self.model).chain(&self.vs).collect();
        let width = rows
            .iter()
            .map(|t| t.model.chars().count())
            .max()
            .unwrap_or(0);
        for t in rows {
            let _ = writeln!(
                s,
                "  {:width$}  median {:>9.3} ms  p10 {:>9.3} ms  p90 {:>9.3} ms  min {:>9.3} ms  \
                 {:>9.1} runs/s  {:>10.1} items/s{}",
                t.model,
                t.median_ms,
                t.p10_ms,
                t.p90_ms,
                t.min_ms,
                t.runs_per_s,
                t.items_per_s,
                if t.native_nodes > 0 {
                    let s = if t.native_nodes == 1 { "" } else { "s" };
                    format!("  ({} ACON node{s} native)", t.native_nodes)
                } else {
                    String::new()
                }
            );
        }
        if let (Some(r), Some(vs)) = (&self.ratio, &self.vs) {
            let _ = writeln!(
                s,
                "  ratio {} / {} per round: median {:.3}, p10 {:.3}, p90 {:.3}",
                vs.model, self.model.model, r.median, r.p10, r.p90
            );
        }
        s
    }
}

/// The `q` quantile (0..=1) of sorted `v`, by nearest rank.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s
}

fn timing(model: &TractModel, times_ms: &[f64], batch: usize) -> Timing {
    let s = sorted(times_ms);
    let median = quantile(&s, 0.5);
    Timing {
        model: model.path.display().to_string(),
        native_nodes: model.native_nodes,
        median_ms: median,
        p10_ms: quantile(&s, 0.1),
        p90_ms: quantile(&s, 0.9),
        min_ms: s.first().copied().unwrap_or(f64::NAN),
        runs_per_s: 1e3 / median,
        items_per_s: batch as f64 * 1e3 / median,
    }
}

/// A prepared model with its execution state, timing one run at a time
/// (also what `benches/layers.rs` interleaves).
pub struct Runner<'m> {
    model: &'m TractModel,
    state: TypedSimpleState,
    inputs: TVec<TValue>,
    fresh_inputs: bool,
}

impl Runner<'_> {
    pub fn new<'m>(model: &'m TractModel, inputs: &[Tensor]) -> Result<Runner<'m>> {
        let plan = model.plan(inputs)?;
        let state = guarded(model.role, &model.path, TractStep::Start, || plan.spawn())?;
        Ok(Runner {
            model,
            state,
            inputs: inputs.iter().map(|t| t.clone().into_tvalue()).collect(),
            fresh_inputs: false,
        })
    }

    /// By default the runner keeps its inputs and hands tract a reference
    /// each run, so tract copies an input before its first in-place op on
    /// it. With `fresh`, each run gets its own copy, made before the clock
    /// starts, which tract owns as it owns what a deployment hands over (and
    /// the allocator serves a new input every run).
    pub fn fresh_inputs(mut self, fresh: bool) -> Self {
        self.fresh_inputs = fresh;
        self
    }

    /// One run; its wall time in milliseconds.
    pub fn time(&mut self) -> Result<f64> {
        let inputs: TVec<TValue> = if self.fresh_inputs {
            let copy = |t: &TValue| t.clone().into_tensor().into_tvalue();
            self.inputs.iter().map(copy).collect()
        } else {
            self.inputs.clone()
        };
        let started = Instant::now();
        let state = &mut self.state;
        guarded(self.model.role, &self.model.path, TractStep::Run, || {
            state.run(inputs)
        })?;
        Ok(started.elapsed().as_secs_f64() * 1e3)
    }
}

/// Runs tract's executor on `threads` threads from now on, in the whole
/// process: 1 is tract's single-threaded executor, more a rayon pool
/// (tract-linalg's `multithread-mm`) for the ops the module doc lists.
pub fn set_threads(threads: usize) -> Result<()> {
    use tract_linalg::multithread::{Executor, set_default_executor};
    match threads {
        0 => return Err(OptionError::NoThreads.into()),
        1 => set_default_executor(Executor::SingleThread),
        n => set_default_executor(Executor::multithread(n)),
    }
    Ok(())
}

/// Times `model` (and `options.vs`).
pub fn bench(model: &Path, options: &BenchOptions) -> Result<BenchReport> {
    if options.runs == 0 {
        return Err(OptionError::NoRuns.into());
    }
    set_threads(options.threads)?;
    let kernels = if options.plain {
        Kernels::Plain
    } else {
        Kernels::Native
    };
    let a = TractModel::load(model, "MODEL", kernels, &options.convert)?;
    let vs_kernels = if options.vs_native {
        Kernels::Native
    } else {
        kernels
    };
    let b = match &options.vs {
        Some(path) => Some(TractModel::load(
            path,
            "OTHER",
            vs_kernels,
            &options.convert,
        )?),
        None => None,
    };
    let mut one = options.inputs.clone();
    one.samples = 1;
    let sample = samples(&a.inputs, &a.outputs, &one)?
        .into_iter()
        .next()
        .expect("one sample");
    let batch = sample
        .inputs
        .first()
        .and_then(|t| t.shape().first().copied())
        .unwrap_or(1);
    let mut runner_a = Runner::new(&a, &sample.inputs)?;
    let mut runner_b = match &b {
        Some(b) => {
            let names =
                |m: &TractModel| m.inputs.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
            let map = match_names(&names(&a), &names(b), "inputs")?;
            let inputs: Vec<Tensor> = map.iter().map(|&i| sample.inputs[i].clone()).collect();
            Some(Runner::new(b, &inputs)?)
        }
        None => None,
    };
    for _ in 0..options.warmup {
        runner_a.time()?;
        if let Some(r) = runner_b.as_mut() {
            r.time()?;
        }
    }
    let mut times_a = Vec::with_capacity(options.runs);
    let mut times_b = Vec::with_capacity(options.runs);
    let mut ratios = Vec::with_capacity(options.runs);
    for round in 0..options.runs {
        match runner_b.as_mut() {
            None => times_a.push(runner_a.time()?),
            Some(rb) => {
                let (ta, tb) = if round % 2 == 0 {
                    let ta = runner_a.time()?;
                    (ta, rb.time()?)
                } else {
                    let tb = rb.time()?;
                    (runner_a.time()?, tb)
                };
                times_a.push(ta);
                times_b.push(tb);
                ratios.push(tb / ta);
            }
        }
    }
    let ratio = (!ratios.is_empty()).then(|| {
        let s = sorted(&ratios);
        Ratio {
            median: quantile(&s, 0.5),
            p10: quantile(&s, 0.1),
            p90: quantile(&s, 0.9),
        }
    });
    Ok(BenchReport {
        inputs: sample.label,
        batch,
        runs: options.runs,
        warmup: options.warmup,
        threads: options.threads,
        model: timing(&a, &times_a, batch),
        vs: b.as_ref().map(|b| timing(b, &times_b, batch)),
        ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let v = sorted(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn zero_threads_is_refused() {
        assert!(set_threads(0).is_err());
    }
}
