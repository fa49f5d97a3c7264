//! `run`: one model on CPU. ACON custom ops run on the native kernels,
//! model-local functions are inlined first, standard models run as they
//! are. In run order: load the model for tract, build the samples (the
//! input options of `verify`), run each, summarise every output and, with
//! `-o`, write the outputs as `.npy` files in a folder or as one `.npz`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use tract_onnx::prelude::*;

use crate::passes::ConvertOptions;
use crate::tract::engine::{Kernels, TractModel};
use crate::tract::error::{Error, OptionError, Result};
use crate::tract::inputs::{InputOptions, samples};
use crate::tract::npy;
use crate::tract::tensor::{datum_name, tensor_to_f64};

/// What `run` is asked.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub convert: ConvertOptions,
    pub inputs: InputOptions,
    /// A folder (one `<output>.npy` each) or a `.npz` file.
    pub output: Option<PathBuf>,
}

/// Summary statistics of one output, over its finite values.
#[derive(Debug, Clone, Serialize)]
pub struct OutputStats {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    /// Elements that are NaN or infinite (left out of the statistics).
    pub non_finite: usize,
}

impl OutputStats {
    pub fn of(name: &str, t: &Tensor) -> Result<OutputStats> {
        let values = tensor_to_f64(t)?;
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let n = finite.len() as f64;
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for &v in &finite {
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        let mean = if finite.is_empty() { f64::NAN } else { sum / n };
        let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n.max(1.0);
        Ok(OutputStats {
            name: name.to_owned(),
            dtype: datum_name(t.datum_type()),
            shape: t.shape().to_vec(),
            min: if finite.is_empty() { f64::NAN } else { min },
            max: if finite.is_empty() { f64::NAN } else { max },
            mean,
            std: var.sqrt(),
            non_finite: values.len() - finite.len(),
        })
    }
}

/// One sample's outputs.
#[derive(Debug, Clone)]
pub struct SampleRun {
    pub label: String,
    pub outputs: Vec<(String, Tensor)>,
    pub stats: Vec<OutputStats>,
    /// Loading aside, the time tract took to optimize the model for these
    /// input shapes (zero when an earlier sample had the same shapes).
    pub prepare_ms: f64,
    /// The run itself.
    pub elapsed_ms: f64,
}

/// What `run` did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub model: String,
    pub native_nodes: usize,
    /// Of those, blocks of standard ops recognised as ACON activations.
    pub recognised: usize,
    pub samples: Vec<SampleRun>,
    /// Files written by `-o`.
    pub written: Vec<PathBuf>,
}

impl RunReport {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "run `{}` ({} ACON node{} on native kernels{})",
            self.model,
            self.native_nodes,
            if self.native_nodes == 1 { "" } else { "s" },
            match self.recognised {
                0 => String::new(),
                n => format!(", {n} of them recognised in standard ops"),
            }
        );
        for sample in &self.samples {
            let _ = writeln!(
                s,
                "inputs: {} (prepared in {:.1} ms, ran in {:.2} ms)",
                sample.label, sample.prepare_ms, sample.elapsed_ms
            );
            let rows: Vec<[String; 8]> = sample
                .stats
                .iter()
                .map(|o| {
                    [
                        o.name.clone(),
                        o.dtype.clone(),
                        format!("{:?}", o.shape),
                        format!("min {:.6}", o.min),
                        format!("max {:.6}", o.max),
                        format!("mean {:.6}", o.mean),
                        format!("std {:.6}", o.std),
                        if o.non_finite > 0 {
                            format!("{} NaN/Inf", o.non_finite)
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            let widths: Vec<usize> = (0..8)
                .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
                .collect();
            for row in rows {
                let mut line = String::from("  ");
                for (cell, w) in row.iter().zip(&widths) {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(w - cell.chars().count() + 2));
                }
                let _ = writeln!(s, "{}", line.trim_end());
            }
        }
        for path in &self.written {
            let _ = writeln!(s, "wrote {}", path.display());
        }
        s
    }
}

/// Runs `model` on the samples of `options`.
pub fn run(model: &Path, options: &RunOptions) -> Result<RunReport> {
    let tract = TractModel::load(model, "MODEL", Kernels::Native, &options.convert)?;
    let samples = samples(&tract.inputs, &tract.outputs, &options.inputs)?;
    if options.output.is_some() && samples.len() > 1 {
        return Err(OptionError::OutputsOfSeveralSamples {
            samples: samples.len(),
        }
        .into());
    }
    let mut report = RunReport {
        model: model.display().to_string(),
        native_nodes: tract.native_nodes,
        recognised: tract.recognised.len(),
        samples: vec![],
        written: vec![],
    };
    for sample in samples {
        let started = Instant::now();
        let on_sample = |what| {
            let sample = sample.label.clone();
            move |e| Error::Sample {
                what,
                sample,
                source: Box::new(e),
            }
        };
        tract
            .plan(&sample.inputs)
            .map_err(on_sample("prepare for"))?;
        let prepare_ms = started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        let outputs = tract.run(&sample.inputs).map_err(on_sample("run on"))?;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        let named: Vec<(String, Tensor)> = tract.outputs.iter().cloned().zip(outputs).collect();
        let stats = named
            .iter()
            .map(|(n, t)| OutputStats::of(n, t))
            .collect::<Result<_>>()?;
        report.samples.push(SampleRun {
            label: sample.label,
            outputs: named,
            stats,
            prepare_ms,
            elapsed_ms,
        });
    }
    if let (Some(dest), Some(sample)) = (&options.output, report.samples.first()) {
        report.written = write_outputs(dest, &sample.outputs)?;
    }
    Ok(report)
}

/// Writes `outputs` to `dest`: one `.npz` if it ends so, else a folder of
/// `<name>.npy` (names made file-safe).
pub fn write_outputs(dest: &Path, outputs: &[(String, Tensor)]) -> Result<Vec<PathBuf>> {
    if dest.extension().is_some_and(|e| e == "npz") {
        npy::write_npz(dest, outputs)?;
        return Ok(vec![dest.to_owned()]);
    }
    if dest.exists() && !dest.is_dir() {
        return Err(Error::OutputNotFolder {
            path: dest.to_owned(),
        });
    }
    std::fs::create_dir_all(dest)
        .map_err(|e| crate::Error::io(dest, "cannot create the folder", e))?;
    let mut used: Vec<String> = vec![];
    let mut written = vec![];
    for (name, t) in outputs {
        let mut stem: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if stem.is_empty() || stem.starts_with('.') {
            stem.insert(0, '_');
        }
        let base = stem.clone();
        let mut k = 1;
        while used.contains(&stem) {
            stem = format!("{base}_{k}");
            k += 1;
        }
        used.push(stem.clone());
        let path = dest.join(format!("{stem}.npy"));
        npy::write_npy(&path, t).map_err(|e| Error::Output {
            name: name.clone(),
            source: Box::new(e),
        })?;
        written.push(path);
    }
    Ok(written)
}
