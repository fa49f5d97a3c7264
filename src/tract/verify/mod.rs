//! `verify`: does a converted model compute what the original did?
//!
//! In run order: load ORIGINAL; take CONVERTED from its file or convert
//! ORIGINAL in memory; bring ORIGINAL to its ACON form and align its regions
//! with CONVERTED, checking the structure outside them
//! ([`crate::tract::regions`]); load ORIGINAL into tract on the reference
//! kernels, with the regions' inputs as extra outputs, and CONVERTED into
//! plain tract (an ACON node left in it is an error); build the input
//! samples; run both on each sample, prove each region on the tensors that
//! reach it ([`crate::tract::local`]) and compare every output under the
//! tolerance ([`crate::compare`]), widened by the model's own noise when no
//! tolerance is asked for: CONVERTED against ORIGINAL, and, when the test
//! data has expected outputs, each of them against those too; last, prove
//! each region on stress inputs.
//!
//! When tract cannot run the whole model (a `Loop`, which tract lacks),
//! but the regions align, the end-to-end comparison is left out and said
//! so: the local proofs, which need no run of the model, and the structure
//! check still decide.
//!
//! The files: [`report`] holds what was found and its JSON form (schema
//! there), [`table`] the text printed on stdout, [`junit`] the JUnit XML,
//! and [`outputs`] the comparison of one output under the end-to-end rule.

mod junit;
mod outputs;
mod report;
mod table;

use std::path::Path;
use std::time::Instant;

use tract_onnx::prelude::*;

use crate::compare::Tolerance;
use crate::passes::ConvertOptions;
use crate::passes::Pipeline;
use crate::proto::ModelProto;
use crate::tract::engine::{Kernels, TractModel, cannot_run, match_names};
use crate::tract::error::{Error, Result};
use crate::tract::inputs::{InputOptions, samples};
use crate::tract::local::{LocalRegion, RegionReport};
use crate::tract::regions::align;
use crate::tract::tensor::{datum_name, float_type};

use outputs::{bounds, check, expected_as, noise_between};
pub use report::{
    Check, InputsReport, OutputReport, SCHEMA_VERSION, SampleReport, Summary, TensorInfo,
    ToleranceReport, Tool, VerifyReport,
};

/// What `verify` is asked.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub convert: ConvertOptions,
    pub inputs: InputOptions,
    pub tolerance: Tolerance,
    /// Overrides the level's atol for every type.
    pub atol: Option<f64>,
    /// Overrides the level's rtol for every type.
    pub rtol: Option<f64>,
    /// Widen the end-to-end bounds by the model's own rounding noise (the
    /// default when no tolerance is asked for; see [`NOISE_FACTOR`]).
    pub calibrate: bool,
    /// Compare the outputs only: no regions, no structure check (what
    /// verify did before regions; the baseline of its cost).
    pub outputs_only: bool,
}

/// End to end, CONVERTED may differ from ORIGINAL by the level's bounds
/// plus this many times the model's rounding noise: the largest difference
/// between two equivalent evaluations of ORIGINAL, its ACON ops on the
/// reference kernels and on the working-precision ones
/// ([`Kernels::Working`]: every step rounded to the model's type, tract's
/// own σ). That second evaluation rounds as CONVERTED on tract must, so an
/// equivalent CONVERTED lands about as far from the reference;
/// docs/verify.md gives the measurements behind the factor.
pub const NOISE_FACTOR: f64 = 4.0;

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            convert: ConvertOptions::default(),
            inputs: InputOptions::default(),
            tolerance: Tolerance::Close,
            atol: None,
            rtol: None,
            calibrate: false,
            outputs_only: false,
        }
    }
}

impl VerifyOptions {
    /// `(atol, rtol)` for an output of type `dt`; non-float outputs must
    /// match exactly.
    pub fn bounds(&self, dt: DatumType) -> (f64, f64) {
        let (atol, rtol) = match float_type(dt) {
            Some(ty) => self.tolerance.bounds(ty),
            None => (0.0, 0.0),
        };
        (self.atol.unwrap_or(atol), self.rtol.unwrap_or(rtol))
    }
}

/// Runs the whole check; `Err` means it could not be run (exit 2), while a
/// report with `equivalent: false` means the models differ (exit 1).
pub fn verify(
    original: &Path,
    converted: Option<&Path>,
    options: &VerifyOptions,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let mut report = VerifyReport::empty(original, converted, options);
    let original_model = load(original, "ORIGINAL")?;
    let converted_model = match converted {
        Some(path) => load(path, "CONVERTED")?,
        None => {
            let mut m = original_model.clone();
            crate::convert(&mut m, &options.convert).map_err(|source| Error::ConvertInMemory {
                path: original.to_owned(),
                source,
            })?;
            m
        }
    };
    // ORIGINAL's ACON form: every activation one ACON node (a region).
    let mut acon_form = original_model.clone();
    let prepared = Pipeline::native()
        .run(&mut acon_form, &options.convert)
        .map_err(|e| Error::Prepare {
            role: "ORIGINAL",
            path: original.to_owned(),
            source: Box::new(e.into()),
        })?;
    report.recognised = prepared.recognised;
    let alignment = if options.outputs_only {
        Default::default()
    } else {
        align(&acon_form, &converted_model, &options.convert)
    };
    let fallback = alignment.unaligned();
    if options.outputs_only {
        report.alignment_note =
            Some("only the outputs are compared, as asked: no region or structure check".into());
    } else if fallback {
        report.alignment_note = Some(
            "no ACON region of ORIGINAL could be found in CONVERTED (it was not made by \
             acon-onnx, or renamed the activations' outputs): only the outputs are compared"
                .into(),
        );
    } else {
        report.structure = alignment.differences.clone();
    }
    let regions: Vec<LocalRegion> = if fallback {
        vec![]
    } else {
        alignment
            .regions
            .into_iter()
            .map(|r| LocalRegion::load(r, original, &options.convert))
            .collect()
    };
    let mut region_reports: Vec<RegionReport> = regions.iter().map(LocalRegion::report).collect();

    // Only regions to prove can decide without a run: with none (nothing
    // aligned, `--outputs-only`, no ACON op), tract's refusal is the error.
    let unrunnable = if regions.is_empty() {
        None
    } else {
        cannot_run(&acon_form).or_else(|| cannot_run(&converted_model))
    };
    let mut outputs = match unrunnable {
        Some(why) => {
            report.native_nodes = regions.len();
            report.end_to_end = Some(format!(
                "not run: {why}; the regions and the structure decide"
            ));
            vec![]
        }
        None => compare_outputs(
            &mut report,
            Models {
                original: original_model,
                acon_form,
                converted: converted_model,
            },
            (original, converted),
            &regions,
            &mut region_reports,
            options,
        )?,
    };
    // Each region again, on stress inputs of its own.
    for (r, rep) in regions.iter().zip(region_reports.iter_mut()) {
        if rep.problem.is_some() {
            continue;
        }
        if let Some(c) = r.stress() {
            rep.checks.push(c);
        }
    }
    for rep in &mut region_reports {
        rep.passed = rep.problem.is_none() && rep.checks.iter().all(|c| c.passed);
    }
    report.regions = region_reports;
    for out in &mut outputs {
        out.passed = out.checks.iter().all(|c| c.passed);
    }
    let checks = outputs.iter().map(|o| o.checks.len()).sum();
    let passed = outputs
        .iter()
        .flat_map(|o| &o.checks)
        .filter(|c| c.passed)
        .count();
    report.summary = Summary {
        checks,
        passed,
        failed: checks - passed,
    };
    // Without the end-to-end comparison (then there are regions) every
    // region must have been checked.
    let decided = checks > 0
        || (report.end_to_end.is_some() && report.regions.iter().all(|r| !r.checks.is_empty()));
    report.equivalent = decided
        && passed == checks
        && report.regions.iter().all(|r| r.passed)
        && report.structure.is_empty();
    report.outputs = outputs;
    report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(report)
}

/// The model at `path`, named by its `role` if it cannot be loaded.
fn load(path: &Path, role: &'static str) -> Result<ModelProto> {
    crate::load(path).map_err(|source| Error::Load {
        role,
        path: path.to_owned(),
        source,
    })
}

/// What [`compare_outputs`] runs: ORIGINAL as loaded, its ACON form, and
/// CONVERTED.
struct Models {
    original: ModelProto,
    acon_form: ModelProto,
    converted: ModelProto,
}

/// The end-to-end comparison: runs ORIGINAL (with the tensors reaching its
/// main-graph regions as extra outputs, each region proved on them) and
/// CONVERTED on every sample, and compares their outputs; `paths` are
/// ORIGINAL's and CONVERTED's files.
fn compare_outputs(
    report: &mut VerifyReport,
    models: Models,
    (original, converted): (&Path, Option<&Path>),
    regions: &[LocalRegion],
    region_reports: &mut [RegionReport],
    options: &VerifyOptions,
) -> Result<Vec<OutputReport>> {
    let Models {
        original: original_model,
        mut acon_form,
        converted: converted_model,
    } = models;
    // The tensors reaching main-graph regions are extra outputs of ORIGINAL.
    let n_outputs = acon_form.graph.as_ref().map_or(0, |g| g.output.len());
    let graph_inputs: Vec<String> = acon_form
        .graph
        .as_ref()
        .map(|g| g.input.iter().map(|i| i.name().to_owned()).collect())
        .unwrap_or_default();
    let mut taps: Vec<String> = vec![];
    if let Some(g) = acon_form.graph.as_mut() {
        for r in regions.iter().filter(|r| r.region.graph.is_empty()) {
            for x in &r.region.inputs {
                let known = g.output.iter().any(|o| o.name() == x)
                    || graph_inputs.contains(x)
                    || taps.contains(x);
                if !known {
                    taps.push(x.clone());
                    g.output.push(crate::proto::ValueInfoProto {
                        name: Some(x.clone()),
                        ..Default::default()
                    });
                }
            }
        }
    }
    // Without its taps: the second evaluation below needs only the outputs.
    let mut working_form = acon_form.clone();
    if let Some(g) = working_form.graph.as_mut() {
        g.output.truncate(n_outputs);
    }
    let reference = TractModel::new(
        acon_form,
        original,
        "ORIGINAL",
        Kernels::Reference,
        &options.convert,
    )?;
    let candidate = TractModel::new(
        converted_model,
        converted.unwrap_or(original),
        if converted.is_some() {
            "CONVERTED"
        } else {
            "the in-memory conversion of"
        },
        Kernels::Plain,
        &options.convert,
    )?;
    report.native_nodes = reference.native_nodes;
    // The second evaluation of ORIGINAL that measures its rounding noise
    // (see [`NOISE_FACTOR`]); without ACON nodes there is none to measure.
    let working = if options.calibrate && !options.outputs_only && reference.native_nodes > 0 {
        Some(TractModel::new(
            working_form,
            original,
            "ORIGINAL rounded at every step",
            Kernels::Working,
            &options.convert,
        )?)
    } else {
        None
    };
    // ORIGINAL's recognised blocks run on the reference kernels with the
    // parameters read from them; its own standard ops, on plain tract, are
    // what those must reproduce.
    let exported = if report.recognised.is_empty() {
        None
    } else {
        Some(TractModel::new(
            original_model,
            original,
            "ORIGINAL as exported",
            Kernels::Plain,
            &options.convert,
        )?)
    };
    let reference_outputs: Vec<String> = reference.outputs[..n_outputs].to_vec();
    let input_map = match_names(
        &reference
            .inputs
            .iter()
            .map(|i| i.name.clone())
            .collect::<Vec<_>>(),
        &candidate
            .inputs
            .iter()
            .map(|i| i.name.clone())
            .collect::<Vec<_>>(),
        "inputs",
    )?;
    let output_map = match_names(&reference_outputs, &candidate.outputs, "outputs")?;
    let samples = samples(&reference.inputs, &reference_outputs, &options.inputs)?;
    report.inputs.samples = samples.len();

    let mut outputs: Vec<OutputReport> = reference_outputs
        .iter()
        .map(|name| OutputReport {
            name: name.clone(),
            dtype: String::new(),
            passed: true,
            atol: 0.0,
            rtol: 0.0,
            checks: vec![],
        })
        .collect();
    for (index, sample) in samples.iter().enumerate() {
        report.samples.push(SampleReport {
            index,
            label: sample.label.clone(),
            inputs: reference
                .inputs
                .iter()
                .zip(&sample.inputs)
                .map(|(d, t)| TensorInfo {
                    name: d.name.clone(),
                    dtype: datum_name(t.datum_type()),
                    shape: t.shape().to_vec(),
                })
                .collect(),
        });
        let at = |what: &'static str| {
            let sample = format!("sample {index} ({})", sample.label);
            move |e| Error::Sample {
                what,
                sample,
                source: Box::new(e),
            }
        };
        let mut want = reference
            .run(&sample.inputs)
            .map_err(at("run ORIGINAL on"))?;
        let tapped = want.split_off(n_outputs);
        // Each region, fed what reaches it in ORIGINAL.
        for (r, rep) in regions.iter().zip(region_reports.iter_mut()) {
            if !r.region.graph.is_empty() || rep.problem.is_some() {
                continue;
            }
            let feed: Option<Vec<Tensor>> = r
                .region
                .inputs
                .iter()
                .map(|x| {
                    if let Some(i) = taps.iter().position(|t| t == x) {
                        tapped.get(i).cloned()
                    } else {
                        let i = graph_inputs.iter().position(|g| g == x)?;
                        let d = reference
                            .inputs
                            .iter()
                            .position(|d| d.name == graph_inputs[i])?;
                        sample.inputs.get(d).cloned()
                    }
                })
                .collect();
            if let Some(feed) = feed {
                rep.checks.push(r.check("original", Some(index), &feed));
            }
        }
        let noise: Vec<Option<f64>> = match &working {
            Some(m) => {
                let other = m
                    .run(&sample.inputs)
                    .map_err(at("run ORIGINAL rounded at every step on"))?;
                want.iter()
                    .zip(&other)
                    .map(|(a, b)| noise_between(a, b))
                    .collect()
            }
            None => vec![None; want.len()],
        };
        let as_exported = match &exported {
            Some(m) => Some(
                m.run(&sample.inputs)
                    .map_err(at("run ORIGINAL as exported on"))?,
            ),
            None => None,
        };
        let candidate_inputs: Vec<Tensor> = input_map
            .iter()
            .map(|&i| sample.inputs[i].clone())
            .collect();
        let got = candidate
            .run(&candidate_inputs)
            .map_err(at("run the converted model on"))?;
        for (k, out) in outputs.iter_mut().enumerate() {
            let want_k = &want[k];
            let noise_k = noise[k];
            out.dtype = datum_name(want_k.datum_type());
            (out.atol, out.rtol) = bounds(options, want_k.datum_type(), noise_k);
            let got_k = &got[output_map[k]];
            out.checks.push(check(
                index,
                "converted",
                "original",
                got_k,
                want_k,
                options,
                noise_k,
            )?);
            if let Some(ex) = &as_exported {
                out.checks.push(check(
                    index, "original", "exported", want_k, &ex[k], options, noise_k,
                )?);
            }
            if let Some(Some(expected)) = sample.expected.get(k) {
                let expected = expected_as(expected, want_k);
                out.checks.push(check(
                    index, "original", "expected", want_k, &expected, options, noise_k,
                )?);
                out.checks.push(check(
                    index,
                    "converted",
                    "expected",
                    got_k,
                    &expected,
                    options,
                    noise_k,
                )?);
            }
        }
    }
    Ok(outputs)
}
