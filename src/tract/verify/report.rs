//! What `verify` found ([`VerifyReport`]), and its JSON form.
//!
//! # Report schema (`--report FILE.json`), version 1
//!
//! Stable: fields are only ever added; a change in meaning bumps
//! `schema_version`. Numbers that are infinite (a relative error against an
//! exact zero) are written as `null`.
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "tool": { "name": "acon-onnx", "version": "0.1.0" },
//!   "original": "path/model.onnx",
//!   "converted": "path/model.converted.onnx" | null,   // null: converted in memory
//!   "equivalent": true,             // every check passed (and no error)
//!   "error": null | "message",      // set when verify could not run (exit 2)
//!   "tolerance": { "level": "close", "atol": null | 1e-6, "rtol": null | 1e-5 },
//!                                   // atol/rtol: the --atol/--rtol overrides
//!   "inputs": { "source": "random" | "files" | "data", "seed": 0 | null, "samples": 3 },
//!                                   // seed: random inputs only; samples: how many were run
//!   "native_nodes": 1,              // ACON nodes run on the native kernels
//!   "recognised": [ { "op_type": "MetaAconC", "node": "node_add_3", "output": "add_3",
//!                     "module": "act1 (MetaAconC)" | null, "graph": "main_graph" } ],
//!                                   // blocks of standard ops in ORIGINAL run as ACON ops
//!                                   // (among native_nodes); each adds the check
//!                                   // "original" ~ "exported" on every output
//!   "samples": [ { "index": 0, "label": "random, seed 0, sample 0",
//!                  "inputs": [ { "name": "x", "dtype": "float", "shape": [2, 8, 5, 7] } ] } ],
//!   "outputs": [ {
//!       "name": "y", "dtype": "float", "passed": true,
//!       "atol": 1e-5, "rtol": 1e-4,     // the bounds applied to this output
//!       "checks": [ {
//!           "sample": 0,
//!           "actual": "converted" | "original",
//!           "expected": "original" | "expected" | "exported",
//!                                   // "expected": output_K.pb of --data; "exported":
//!                                   // ORIGINAL's own standard ops on plain tract
//!           "shape": [2, 8, 5, 7],
//!           "passed": true,
//!           "problem": null | "shape [2, 8] differs from [2, 9]",
//!           "worst_coords": [1, 3, 0, 4] | null,
//!           "rule": "close" | "--atol/--rtol" | "close + 4 × noise 1.75e-4",
//!           "comparison": null | {       // null when a problem prevents comparing
//!               "elements": 560, "max_abs_error": 2.4e-7, "max_rel_error": 1.1e-6,
//!               "mean_abs_error": 3.0e-8, "max_ulp": 4,
//!               "worst_index": 123, "worst_actual": 0.52, "worst_expected": 0.52,
//!               "beyond_tolerance": 0, "nan_inf_mismatches": 0,
//!               "min_passing_atol": 2.4e-7 | null,
//!               "atol": 1e-5, "rtol": 1e-4, "passed": true } } ] } ],
//!   "regions": [ {                  // each ACON region's local proof (issue 13)
//!       "output": "y", "op_type": "MetaAconC", "node": "act4",
//!       "graph": "" | "if_out.then_branch",   // empty: the main graph
//!       "aligned": true, "problem": null | "not aligned: …", "passed": true,
//!       "checks": [ { "input": "original" | "stress", "sample": 0 | null,
//!                     "range": [-9.8, 8.3], "shape": [2, 8, 5, 7],
//!                     "precision": "f64" | "model", "noise": 1.2e-6,
//!                     "passed": true, "problem": null, "comparison": { … } } ] } ],
//!   "structure": [ { "graph": "", "node": "conv1_out", "field": "initializer",
//!                    "detail": "…" } ],      // differences outside the regions
//!   "alignment_note": null | "…",    // set when only the outputs were compared
//!   "end_to_end": null | "not run: …",  // set when the outputs could not be compared
//!                                   // (tract has no Loop): regions and structure decide
//!   "summary": { "checks": 3, "passed": 3, "failed": 0 },   // output checks
//!   "elapsed_ms": 41.2
//! }
//! ```

use std::path::Path;

use serde::Serialize;

use super::VerifyOptions;
use crate::compare::Comparison;
use crate::tract::error::{Error, ReportFormat, Result};
use crate::tract::local::RegionReport;
use crate::tract::npy::write_atomically;
use crate::tract::regions::Difference;

/// The version of the JSON report's schema.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToleranceReport {
    pub level: String,
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputsReport {
    pub source: &'static str,
    pub seed: Option<u64>,
    pub samples: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SampleReport {
    pub index: usize,
    pub label: String,
    pub inputs: Vec<TensorInfo>,
}

/// One comparison of one output on one sample.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub sample: usize,
    /// `converted` or `original`.
    pub actual: &'static str,
    /// `original` or `expected` (the test data's output).
    pub expected: &'static str,
    pub shape: Vec<usize>,
    pub passed: bool,
    /// Why the values could not be compared (shape or type differ).
    pub problem: Option<String>,
    /// The worst element's coordinates.
    pub worst_coords: Option<Vec<usize>>,
    pub comparison: Option<Comparison>,
    /// What set the bounds: `close`, `--atol/--rtol`, or `close + 4 × noise
    /// 3.1e-5` when calibrated.
    pub rule: String,
}

impl Check {
    pub fn title(&self) -> String {
        format!("{} ~ {}", self.actual, self.expected)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputReport {
    pub name: String,
    pub dtype: String,
    pub passed: bool,
    pub atol: f64,
    pub rtol: f64,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub checks: usize,
    pub passed: usize,
    pub failed: usize,
}

/// Everything `verify` found; see the module doc for the JSON schema.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub schema_version: u32,
    pub tool: Tool,
    pub original: String,
    pub converted: Option<String>,
    pub equivalent: bool,
    pub error: Option<String>,
    pub tolerance: ToleranceReport,
    pub inputs: InputsReport,
    pub native_nodes: usize,
    /// Blocks of standard ops in ORIGINAL recognised as ACON activations.
    pub recognised: Vec<crate::passes::RecognisedBlock>,
    pub samples: Vec<SampleReport>,
    pub outputs: Vec<OutputReport>,
    /// Each ACON region's local proof.
    pub regions: Vec<RegionReport>,
    /// Differences outside the regions (each one fails verify).
    pub structure: Vec<Difference>,
    /// Set when CONVERTED could not be aligned with ORIGINAL: then only the
    /// outputs were compared.
    pub alignment_note: Option<String>,
    /// Set when the outputs were not compared (tract cannot run the model,
    /// for a `Loop`): then the regions and the structure decide.
    pub end_to_end: Option<String>,
    pub summary: Summary,
    pub elapsed_ms: f64,
}

impl VerifyReport {
    pub(super) fn empty(
        original: &Path,
        converted: Option<&Path>,
        options: &VerifyOptions,
    ) -> Self {
        let random = options.inputs.source() == "random";
        VerifyReport {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
            },
            original: original.display().to_string(),
            converted: converted.map(|p| p.display().to_string()),
            equivalent: false,
            error: None,
            tolerance: ToleranceReport {
                level: options.tolerance.name().to_owned(),
                atol: options.atol,
                rtol: options.rtol,
            },
            inputs: InputsReport {
                source: options.inputs.source(),
                seed: random.then_some(options.inputs.seed),
                samples: if random { options.inputs.samples } else { 0 },
            },
            native_nodes: 0,
            recognised: vec![],
            samples: vec![],
            outputs: vec![],
            regions: vec![],
            structure: vec![],
            alignment_note: None,
            end_to_end: None,
            summary: Summary {
                checks: 0,
                passed: 0,
                failed: 0,
            },
            elapsed_ms: 0.0,
        }
    }

    /// The report of a verify that could not run, for the JSON and JUnit
    /// reports in CI; `error` says why, as the user is told (the cause
    /// chain, see [`crate::tract::error::chain`]).
    pub fn failed_to_run(
        original: &Path,
        converted: Option<&Path>,
        options: &VerifyOptions,
        error: &str,
    ) -> Self {
        let mut r = VerifyReport::empty(original, converted, options);
        r.error = Some(error.to_owned());
        r
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    /// Writes the JSON report atomically.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        write_report(path, ReportFormat::Json, &self.to_json())
    }

    /// Writes the JUnit XML atomically.
    pub fn write_junit(&self, path: &Path) -> Result<()> {
        write_report(path, ReportFormat::Junit, &self.to_junit())
    }
}

fn write_report(path: &Path, format: ReportFormat, text: &str) -> Result<()> {
    write_atomically(path, |f| std::io::Write::write_all(f, text.as_bytes())).map_err(|source| {
        Error::Report {
            format,
            path: path.to_owned(),
            source,
        }
    })
}
