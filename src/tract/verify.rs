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
//! each region on stress inputs. The [`VerifyReport`] renders as a table, as JSON
//! (schema below) and as JUnit XML.
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
//!   "summary": { "checks": 3, "passed": 3, "failed": 0 },   // output checks
//!   "elapsed_ms": 41.2
//! }
//! ```

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use tract_onnx::prelude::*;

use crate::compare::{Comparison, Tolerance, compare};
use crate::model::tensor::FloatType;
use crate::passes::ConvertOptions;
use crate::passes::Pipeline;
use crate::tract::engine::{Kernels, TractModel, match_names};
use crate::tract::inputs::{InputOptions, samples};
use crate::tract::local::{LocalRegion, RegionReport};
use crate::tract::npy::write_atomically;
use crate::tract::regions::{Difference, align};
use crate::tract::tensor::{datum_name, float_type, tensor_to_f64};

/// The version of the JSON report's schema.
pub const SCHEMA_VERSION: u32 = 1;

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
    pub summary: Summary,
    pub elapsed_ms: f64,
}

impl VerifyReport {
    fn empty(original: &Path, converted: Option<&Path>, options: &VerifyOptions) -> Self {
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
            summary: Summary {
                checks: 0,
                passed: 0,
                failed: 0,
            },
            elapsed_ms: 0.0,
        }
    }

    /// The report of a verify that could not run, for `--report` and
    /// `--junit` in CI.
    pub fn failed_to_run(
        original: &Path,
        converted: Option<&Path>,
        options: &VerifyOptions,
        error: &anyhow::Error,
    ) -> Self {
        let mut r = VerifyReport::empty(original, converted, options);
        r.error = Some(format!("{error:#}"));
        r
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    /// The readable table printed on stdout.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let against = match &self.converted {
            Some(c) => format!("`{c}`"),
            None => "its in-memory conversion".to_owned(),
        };
        let recognised = match self.recognised.len() {
            0 => String::new(),
            n => format!(", {n} of them recognised in standard ops"),
        };
        let _ = writeln!(
            s,
            "verify `{}` ({} ACON node{} on native kernels{recognised}) against {against}",
            self.original,
            self.native_nodes,
            if self.native_nodes == 1 { "" } else { "s" }
        );
        for b in &self.recognised {
            let _ = writeln!(
                s,
                "  recognised {} `{}`{}",
                b.op_type,
                b.output,
                b.module
                    .as_ref()
                    .map(|m| format!(" from {m}"))
                    .unwrap_or_default()
            );
        }
        let mut bounds: Vec<String> = vec![];
        for o in &self.outputs {
            let b = format!("{} atol {:e} rtol {:e}", o.dtype, o.atol, o.rtol);
            if !bounds.contains(&b) {
                bounds.push(b);
            }
        }
        let _ = writeln!(
            s,
            "tolerance {}{}{}; inputs: {}",
            self.tolerance.level,
            if bounds.is_empty() { "" } else { ": " },
            bounds.join(", "),
            match self.inputs.source {
                "random" => format!(
                    "random, seed {}, {} sample{}",
                    self.inputs.seed.unwrap_or(0),
                    self.samples.len(),
                    if self.samples.len() == 1 { "" } else { "s" }
                ),
                "data" => format!("{} test data set(s)", self.samples.len()),
                other => other.to_owned(),
            }
        );
        s.push('\n');
        let header = [
            "output",
            "sample",
            "check",
            "max abs",
            "max rel",
            "mean abs",
            "ulp",
            "beyond",
            "nan/inf",
            "min atol",
            "worst element (actual vs expected)",
            "result",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for o in &self.outputs {
            for c in &o.checks {
                let result = if c.passed { "ok" } else { "FAIL" }.to_owned();
                let row = match &c.comparison {
                    Some(cmp) => vec![
                        o.name.clone(),
                        c.sample.to_string(),
                        c.title(),
                        num(cmp.max_abs_error),
                        num(cmp.max_rel_error),
                        num(cmp.mean_abs_error),
                        cmp.max_ulp.to_string(),
                        format!("{}/{}", cmp.beyond_tolerance, cmp.elements),
                        cmp.nan_inf_mismatches.to_string(),
                        cmp.min_passing_atol
                            .map(num)
                            .unwrap_or_else(|| "none".into()),
                        worst(c, cmp),
                        result,
                    ],
                    None => {
                        let mut r = vec![o.name.clone(), c.sample.to_string(), c.title()];
                        r.extend(std::iter::repeat_n("-".to_owned(), 7));
                        r.push(c.problem.clone().unwrap_or_default());
                        r.push(result);
                        r
                    }
                };
                rows.push(row);
            }
        }
        s.push_str(&render(&rows));
        s.push('\n');
        if !self.regions.is_empty() {
            s.push_str(&self.regions_table());
            s.push('\n');
        }
        if let Some(note) = &self.alignment_note {
            let _ = writeln!(s, "note: {note}\n");
        }
        for d in &self.structure {
            let _ = writeln!(
                s,
                "structure: {}{}: {}",
                if d.graph.is_empty() {
                    String::new()
                } else {
                    format!("in `{}`, ", d.graph)
                },
                d.field,
                d.detail
            );
        }
        if !self.structure.is_empty() {
            s.push('\n');
        }
        let verdict = if self.equivalent {
            "equivalent"
        } else {
            "NOT EQUIVALENT"
        };
        let regions_passed = self.regions.iter().filter(|r| r.passed).count();
        let structure = if self.alignment_note.is_some() {
            "structure not compared".to_owned()
        } else if self.structure.is_empty() {
            "the rest identical".to_owned()
        } else {
            format!("{} differences outside the regions", self.structure.len())
        };
        let _ = writeln!(
            s,
            "{verdict}: {} of {} checks passed, {regions_passed} of {} regions proved, \
             {structure} ({:.0} ms)",
            self.summary.passed,
            self.summary.checks,
            self.regions.len(),
            self.elapsed_ms
        );
        s
    }

    /// One row per region check: where it is, what fed it, the worst error.
    fn regions_table(&self) -> String {
        let header = [
            "region", "op", "input", "range", "max abs", "max rel", "beyond", "result",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for r in &self.regions {
            let name = if r.graph.is_empty() {
                r.output.clone()
            } else {
                format!("{}/{}", r.graph, r.output)
            };
            // A region without figures: its name, its op, and why.
            let bare = |result: String| {
                let mut row = vec![name.clone(), r.op_type.clone()];
                row.extend(std::iter::repeat_n("-".to_owned(), 5));
                row.push(result);
                row
            };
            if let Some(problem) = &r.problem {
                rows.push(bare(format!("FAIL: {problem}")));
                continue;
            }
            if r.checks.is_empty() {
                rows.push(bare(
                    "not fed (no sample reaches it, and its shape is unknown)".into(),
                ));
                continue;
            }
            for c in &r.checks {
                let input = match c.sample {
                    Some(i) => format!("sample {i}"),
                    None => c.input.to_owned(),
                };
                let range = c
                    .range
                    .map(|[lo, hi]| format!("[{}, {}]", num(lo), num(hi)))
                    .unwrap_or_else(|| "-".into());
                let result = if c.passed {
                    "ok".to_owned()
                } else {
                    format!(
                        "FAIL{}",
                        c.problem
                            .as_ref()
                            .map(|p| format!(": {p}"))
                            .unwrap_or_else(|| format!(": look at node `{}`", r.node))
                    )
                };
                let (abs, rel, beyond) = match &c.comparison {
                    Some(cmp) => (
                        num(cmp.max_abs_error),
                        num(cmp.max_rel_error),
                        format!("{}/{}", cmp.beyond_tolerance, cmp.elements),
                    ),
                    None => ("-".into(), "-".into(), "-".into()),
                };
                rows.push(vec![
                    name.clone(),
                    r.op_type.clone(),
                    input,
                    range,
                    abs,
                    rel,
                    beyond,
                    result,
                ]);
            }
        }
        render(&rows)
    }

    /// JUnit XML: one test suite, one test case per output; a failing
    /// output carries a `failure` element listing its failed checks, and a
    /// verify that could not run is one test case with an `error` element.
    pub fn to_junit(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let (tests, failures, errors) = match &self.error {
            Some(_) => (1, 0, 1),
            None => (
                self.outputs.len() + self.regions.len() + 1,
                self.outputs.iter().filter(|o| !o.passed).count()
                    + self.regions.iter().filter(|r| !r.passed).count()
                    + usize::from(!self.structure.is_empty()),
                0,
            ),
        };
        let time = format!("{:.3}", self.elapsed_ms / 1e3);
        let _ = writeln!(
            s,
            "<testsuites name=\"acon-onnx verify\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"{errors}\" time=\"{time}\">"
        );
        let _ = writeln!(
            s,
            "  <testsuite name=\"verify {}\" tests=\"{tests}\" failures=\"{failures}\" \
             errors=\"{errors}\" time=\"{time}\">",
            xml(&self.original)
        );
        let _ = writeln!(s, "    <properties>");
        let mut props = vec![
            ("original", self.original.clone()),
            (
                "converted",
                self.converted
                    .clone()
                    .unwrap_or_else(|| "(in memory)".into()),
            ),
            ("tolerance", self.tolerance.level.clone()),
            ("inputs", self.inputs.source.to_owned()),
        ];
        if let Some(seed) = self.inputs.seed {
            props.push(("seed", seed.to_string()));
        }
        for (k, v) in props {
            let _ = writeln!(s, "      <property name=\"{k}\" value=\"{}\"/>", xml(&v));
        }
        let _ = writeln!(s, "    </properties>");
        let classname = xml(&format!("acon-onnx.verify.{}", self.original));
        if let Some(error) = &self.error {
            let _ = writeln!(
                s,
                "    <testcase name=\"verify\" classname=\"{classname}\" time=\"{time}\">\n      \
                 <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
                xml(error.lines().next().unwrap_or("")),
                xml(error)
            );
        }
        for o in &self.outputs {
            let _ = write!(
                s,
                "    <testcase name=\"{}\" classname=\"{classname}\" time=\"0\">",
                xml(&o.name)
            );
            if o.passed {
                s.push_str("</testcase>\n");
                continue;
            }
            let failed: Vec<&Check> = o.checks.iter().filter(|c| !c.passed).collect();
            let details: Vec<String> = failed.iter().map(|c| check_line(c)).collect();
            let _ = write!(
                s,
                "\n      <failure message=\"{}\" type=\"not-equivalent\">{}</failure>\n    \
                 </testcase>\n",
                xml(&format!(
                    "output `{}`: {} of {} checks failed; {}",
                    o.name,
                    failed.len(),
                    o.checks.len(),
                    details.first().cloned().unwrap_or_default()
                )),
                xml(&details.join("\n"))
            );
        }
        if self.error.is_none() {
            for r in &self.regions {
                let name = if r.graph.is_empty() {
                    format!("region {} ({})", r.output, r.op_type)
                } else {
                    format!("region {}/{} ({})", r.graph, r.output, r.op_type)
                };
                let _ = write!(
                    s,
                    "    <testcase name=\"{}\" classname=\"{classname}\" time=\"0\">",
                    xml(&name)
                );
                if r.passed {
                    s.push_str("</testcase>\n");
                    continue;
                }
                let why = r.problem.clone().unwrap_or_else(|| {
                    let failed = r.checks.iter().filter(|c| !c.passed).count();
                    format!(
                        "{failed} of {} local checks failed; look at node `{}`",
                        r.checks.len(),
                        r.node
                    )
                });
                let _ = write!(
                    s,
                    "\n      <failure message=\"{}\" type=\"region\">{}</failure>\n    \
                     </testcase>\n",
                    xml(&why),
                    xml(&why)
                );
            }
            let _ = write!(
                s,
                "    <testcase name=\"structure outside the regions\" classname=\"{classname}\" \
                 time=\"0\">"
            );
            if self.structure.is_empty() {
                s.push_str("</testcase>\n");
            } else {
                let lines: Vec<String> = self
                    .structure
                    .iter()
                    .map(|d| format!("{} {}: {}", d.graph, d.field, d.detail))
                    .collect();
                let _ = write!(
                    s,
                    "\n      <failure message=\"{}\" type=\"structure\">{}</failure>\n    \
                     </testcase>\n",
                    xml(&format!("{} differences outside the regions", lines.len())),
                    xml(&lines.join("\n"))
                );
            }
        }
        let _ = writeln!(s, "  </testsuite>\n</testsuites>");
        s
    }

    /// Writes the JSON report atomically.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = self.to_json();
        write_atomically(path, |f| Ok(std::io::Write::write_all(f, text.as_bytes())?))
    }

    /// Writes the JUnit XML atomically.
    pub fn write_junit(&self, path: &Path) -> Result<()> {
        let text = self.to_junit();
        write_atomically(path, |f| Ok(std::io::Write::write_all(f, text.as_bytes())?))
    }
}

/// One line describing a check, for JUnit failure text.
fn check_line(c: &Check) -> String {
    match (&c.comparison, &c.problem) {
        (_, Some(problem)) => format!("sample {}, {}: {problem}", c.sample, c.title()),
        (Some(cmp), None) => format!(
            "sample {}, {}: {} of {} elements beyond atol {:e} rtol {:e}, {} NaN/Inf \
             mismatches; max abs {}, max rel {}, max ulp {}; worst {}; smallest passing atol {}",
            c.sample,
            c.title(),
            cmp.beyond_tolerance,
            cmp.elements,
            cmp.atol,
            cmp.rtol,
            cmp.nan_inf_mismatches,
            num(cmp.max_abs_error),
            num(cmp.max_rel_error),
            cmp.max_ulp,
            worst(c, cmp),
            cmp.min_passing_atol
                .map(num)
                .unwrap_or_else(|| "none".into())
        ),
        (None, None) => format!("sample {}, {}", c.sample, c.title()),
    }
}

fn num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.is_infinite() {
        "inf".into()
    } else {
        format!("{v:.2e}")
    }
}

fn worst(c: &Check, cmp: &Comparison) -> String {
    match (&c.worst_coords, cmp.worst_actual, cmp.worst_expected) {
        (Some(at), Some(a), Some(e)) => {
            let at: Vec<String> = at.iter().map(|i| i.to_string()).collect();
            format!("[{}] {} vs {}", at.join(","), value(a), value(e))
        }
        _ => "-".into(),
    }
}

/// A value with 7 significant digits.
fn value(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) || !v.is_finite() {
        format!("{v:.7}")
    } else {
        format!("{v:.6e}")
    }
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no way to write other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
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
    let original_model = crate::load(original).context("ORIGINAL")?;
    let converted_model = match converted {
        Some(path) => crate::load(path).context("CONVERTED")?,
        None => {
            let mut m = original_model.clone();
            crate::convert(&mut m, &options.convert)
                .with_context(|| format!("convert `{}` in memory", original.display()))?;
            m
        }
    };
    // ORIGINAL's ACON form: every activation one ACON node (a region).
    let mut acon_form = original_model.clone();
    let prepared = Pipeline::native()
        .run(&mut acon_form, &options.convert)
        .with_context(|| format!("ORIGINAL `{}`: prepare for tract", original.display()))?;
    report.recognised = prepared.recognised;
    let alignment = if options.outputs_only {
        Default::default()
    } else {
        align(&acon_form, &converted_model, &options.convert)
    };
    let fallback = alignment.unaligned();
    if fallback {
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
    // The second evaluation of ORIGINAL that measures its rounding noise
    // (see [`NOISE_FACTOR`]).
    let working = if options.calibrate && !options.outputs_only {
        let mut m = acon_form.clone();
        if let Some(g) = m.graph.as_mut() {
            g.output.truncate(n_outputs);
        }
        Some(TractModel::new(
            m,
            original,
            "ORIGINAL rounded at every step",
            Kernels::Working,
            &options.convert,
        )?)
    } else {
        None
    };
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
    let working = working.filter(|_| reference.native_nodes > 0);
    // ORIGINAL's recognised blocks run on the reference kernels with the
    // parameters read from them; its own standard ops, on plain tract, are
    // what those must reproduce.
    let exported = if report.recognised.is_empty() {
        None
    } else {
        let model = crate::load(original).context("ORIGINAL")?;
        Some(TractModel::new(
            model,
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
        let at = |what: &str| format!("{what} on sample {index} ({})", sample.label);
        let mut want = reference
            .run(&sample.inputs)
            .with_context(|| at("run ORIGINAL"))?;
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
                    .with_context(|| at("run ORIGINAL rounded at every step"))?;
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
                    .with_context(|| at("run ORIGINAL as exported"))?,
            ),
            None => None,
        };
        let candidate_inputs: Vec<Tensor> = input_map
            .iter()
            .map(|&i| sample.inputs[i].clone())
            .collect();
        let got = candidate
            .run(&candidate_inputs)
            .with_context(|| at("run the converted model"))?;
        for (k, out) in outputs.iter_mut().enumerate() {
            let want_k = &want[k];
            let noise_k = noise[k];
            let (atol, rtol) = options.bounds(want_k.datum_type());
            out.dtype = datum_name(want_k.datum_type());
            out.atol = atol + NOISE_FACTOR * noise_k.unwrap_or(0.0);
            out.rtol = rtol;
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
    report.equivalent = checks > 0
        && passed == checks
        && report.regions.iter().all(|r| r.passed)
        && report.structure.is_empty();
    report.outputs = outputs;
    report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(report)
}

/// The largest difference between two evaluations of one output (NaN and
/// infinities left out: the comparison counts those itself).
fn noise_between(a: &Tensor, b: &Tensor) -> Option<f64> {
    let (a, b) = (tensor_to_f64(a).ok()?, tensor_to_f64(b).ok()?);
    if a.len() != b.len() {
        return None;
    }
    Some(
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .filter(|d| d.is_finite())
            .fold(0.0, f64::max),
    )
}

/// Rows as columns two spaces apart, the last column unpadded.
fn render(rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
    s
}

/// Test data stores expected outputs in the model's type; if not, compare
/// in the type the model computes.
fn expected_as(expected: &Tensor, like: &Tensor) -> Tensor {
    if expected.datum_type() == like.datum_type() {
        return expected.clone();
    }
    expected
        .cast_to_dt(like.datum_type())
        .map(|t| t.into_owned())
        .unwrap_or_else(|_| expected.clone())
}

fn check(
    sample: usize,
    actual_side: &'static str,
    expected_side: &'static str,
    actual: &Tensor,
    expected: &Tensor,
    options: &VerifyOptions,
    noise: Option<f64>,
) -> Result<Check> {
    let rule = if options.atol.is_some() || options.rtol.is_some() {
        "--atol/--rtol".to_owned()
    } else {
        match noise {
            Some(n) => format!(
                "{} + {NOISE_FACTOR} × noise {n:.2e}",
                options.tolerance.name()
            ),
            None => options.tolerance.name().to_owned(),
        }
    };
    let mut c = Check {
        sample,
        actual: actual_side,
        expected: expected_side,
        shape: expected.shape().to_vec(),
        passed: false,
        problem: None,
        worst_coords: None,
        comparison: None,
        rule,
    };
    if actual.shape() != expected.shape() {
        c.problem = Some(format!(
            "shape {:?} differs from {:?}",
            actual.shape(),
            expected.shape()
        ));
        return Ok(c);
    }
    if actual.datum_type() != expected.datum_type() {
        c.problem = Some(format!(
            "type {} differs from {}",
            datum_name(actual.datum_type()),
            datum_name(expected.datum_type())
        ));
        return Ok(c);
    }
    let (atol, rtol) = options.bounds(expected.datum_type());
    let atol = atol + NOISE_FACTOR * noise.unwrap_or(0.0);
    let ty = float_type(expected.datum_type()).unwrap_or(FloatType::F64);
    let a = tensor_to_f64(actual)?;
    let e = tensor_to_f64(expected)?;
    let cmp = compare(&a, &e, ty, atol, rtol);
    c.passed = cmp.passed;
    c.worst_coords = cmp.worst_index.map(|i| coords(i, expected.shape()));
    c.comparison = Some(cmp);
    Ok(c)
}

/// Row-major coordinates of flat index `i`.
fn coords(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut out = vec![0; shape.len()];
    for (axis, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            out[axis] = i % d;
            i /= d;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_indices_become_coordinates() {
        assert_eq!(coords(0, &[2, 3]), vec![0, 0]);
        assert_eq!(coords(5, &[2, 3]), vec![1, 2]);
        assert_eq!(coords(7, &[2, 2, 2]), vec![1, 1, 1]);
        assert!(coords(0, &[]).is_empty());
    }

    #[test]
    fn xml_escapes_markup() {
        assert_eq!(xml("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
