//! `convert --to nnef`: a model in any ACON form (custom ops, functions,
//! recognised standard-op blocks) as tract's NNEF archive of tract-core ops
//! only, so that an app loads it with `tract-nnef` alone: gzipped
//! (`.nnef.tgz`), or a plain tar when the output's name ends in `.tar`,
//! which starts faster (docs/nnef.md).
//!
//! In run order: refuse a destination that `save` would refuse, before any
//! work; convert to standard ops in memory ([`Pipeline::convert`]); hand the
//! result to plain tract-onnx; make it typed and decluttered, as
//! `tract dump --nnef` does before it serializes; write the archive into
//! memory; reload it with tract-nnef's loader alone and run both models on
//! seeded random inputs. The outputs must be bit-identical, or nothing is
//! written (`NnefError::Differs`). Then the archive goes to disk through the
//! one atomic writer. ACON activations are decomposed in the archive, not
//! NNEF fragments: docs/nnef.md says why.

use std::io::Write as _;
use std::path::Path;

use tract_onnx::prelude::*;

use crate::model::SaveOptions;
use crate::model::atomic::write_atomically;
use crate::model::io::check_destination;
use crate::passes::{ConvertOptions, ConvertReport, Pipeline};
use crate::tract::engine::{Kernels, TractModel, guarded};
use crate::tract::error::{Error, Result, TractStep};
use crate::tract::inputs::{InputOptions, samples};
use crate::tract::tensor::tensor_to_f64;

/// What `convert --to nnef` is asked.
#[derive(Debug, Clone, Default)]
pub struct NnefOptions {
    pub convert: ConvertOptions,
    /// Seed of the random inputs the reloaded archive is checked on.
    pub seed: u64,
    /// Replace the destination if it exists.
    pub overwrite: bool,
}

/// What an NNEF export did.
#[derive(Debug, Clone)]
pub struct NnefReport {
    /// The conversion to standard ops that came first.
    pub convert: ConvertReport,
    /// Nodes of the typed, decluttered graph the archive holds.
    pub nodes: usize,
    /// Size of the archive written.
    pub bytes: u64,
    /// Output values compared between the ONNX path and the reloaded
    /// archive, all bit-identical.
    pub compared: usize,
}

/// Why an archive was not written although tract made one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NnefError {
    /// The reloaded archive computes something else than the ONNX path.
    #[error(
        "the NNEF archive, reloaded with tract-nnef, gives {nnef:e} for output `{output}` at \
         element {index}, where tract-onnx gives {onnx:e}; nothing was written"
    )]
    Differs {
        output: String,
        index: usize,
        nnef: f64,
        onnx: f64,
    },
    /// The reloaded archive gives an output of another type or shape.
    #[error(
        "the NNEF archive, reloaded with tract-nnef, gives output `{output}` as {nnef}, where \
         tract-onnx gives {onnx}; nothing was written"
    )]
    Mismatch {
        output: String,
        nnef: String,
        onnx: String,
    },
}

/// Converts `input` and writes it to `output` as an NNEF archive (see the
/// module doc for the steps). Neither the input nor its data files are ever
/// replaced.
pub fn convert_file(input: &Path, output: &Path, options: &NnefOptions) -> Result<NnefReport> {
    let (mut model, sources) = crate::model::load_with_sources(input)?;
    let mut destination = SaveOptions {
        overwrite: options.overwrite,
        ..SaveOptions::default()
    };
    destination.inputs.push(input.to_owned());
    destination.inputs.extend(sources.files.iter().cloned());
    check_destination(output, &destination)?;
    let convert = Pipeline::convert().run(&mut model, &options.convert)?;
    let tract = TractModel::new(model, input, "MODEL", Kernels::Plain, &options.convert)?;
    let random = InputOptions {
        seed: options.seed,
        ..InputOptions::default()
    };
    let sample = samples(&tract.inputs, &tract.outputs, &random)?
        .into_iter()
        .next()
        .ok_or(Error::NoSample)?;
    let typed = guarded("", input, TractStep::Type, || {
        tract.inference().clone().into_typed()?.into_decluttered()
    })?;
    let nnef = tract_nnef::nnef();
    let gzip = output.extension().is_none_or(|e| e != "tar");
    // Deterministic: the same model gives the same bytes.
    let archive = guarded("", input, TractStep::Serialize, || match gzip {
        true => {
            let gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::default());
            Ok(nnef
                .write_to_tar_with_config(&typed, gz, false, true)?
                .finish()?)
        }
        false => nnef.write_to_tar_with_config(&typed, vec![], false, true),
    })?;
    let reloaded = guarded("", input, TractStep::Reload, || {
        nnef.model_for_read(&mut archive.as_slice())
    })?;
    let expected = run_typed(&typed, &sample.inputs, input, "tract-onnx")?;
    let actual = run_typed(&reloaded, &sample.inputs, input, "NNEF archive")?;
    let compared = identical(&tract.outputs, &expected, &actual)?;
    write_atomically(output, options.overwrite, |f| f.write_all(&archive))?;
    Ok(NnefReport {
        convert,
        nodes: typed.nodes().len(),
        bytes: archive.len() as u64,
        compared,
    })
}

/// Optimises a copy of `model` (`which`, of the file `path`) and runs it once.
fn run_typed(
    model: &TypedModel,
    inputs: &[Tensor],
    path: &Path,
    which: &'static str,
) -> Result<Vec<Tensor>> {
    guarded("", path, TractStep::RunAs(which), || {
        let plan = model.clone().into_optimized()?.into_runnable()?;
        let values: TVec<TValue> = inputs.iter().map(|t| t.clone().into_tvalue()).collect();
        Ok(plan
            .run(values)?
            .into_iter()
            .map(|v| v.into_tensor())
            .collect())
    })
}

/// Checks that `actual` is `expected` bit for bit; returns the values compared.
fn identical(names: &[String], expected: &[Tensor], actual: &[Tensor]) -> Result<usize> {
    let mut compared = 0;
    for (ix, (e, a)) in expected.iter().zip(actual).enumerate() {
        let output = names.get(ix).cloned().unwrap_or_else(|| format!("#{ix}"));
        let describe = |t: &Tensor| format!("{:?} {:?}", t.datum_type(), t.shape());
        if e.datum_type() != a.datum_type() || e.shape() != a.shape() {
            return Err(NnefError::Mismatch {
                output,
                nnef: describe(a),
                onnx: describe(e),
            }
            .into());
        }
        if e.as_bytes() != a.as_bytes() {
            let (ev, av) = (tensor_to_f64(e)?, tensor_to_f64(a)?);
            let index = ev
                .iter()
                .zip(&av)
                .position(|(x, y)| x.to_bits() != y.to_bits())
                .unwrap_or(0);
            return Err(NnefError::Differs {
                output,
                index,
                nnef: av.get(index).copied().unwrap_or(f64::NAN),
                onnx: ev.get(index).copied().unwrap_or(f64::NAN),
            }
            .into());
        }
        compared += e.len();
    }
    if expected.len() != actual.len() {
        return Err(NnefError::Mismatch {
            output: "(all)".into(),
            nnef: format!("{} outputs", actual.len()),
            onnx: format!("{} outputs", expected.len()),
        }
        .into());
    }
    Ok(compared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(values: &[f32]) -> Tensor {
        tract_ndarray::arr1(values).into_tensor()
    }

    #[test]
    fn identical_outputs_pass_and_count() {
        let names = vec!["y".to_owned()];
        assert_eq!(
            identical(&names, &[t(&[1.0, 2.0])], &[t(&[1.0, 2.0])]).unwrap(),
            2
        );
    }

    #[test]
    fn one_ulp_is_a_difference_naming_the_element() {
        let names = vec!["y".to_owned()];
        let next = f32::from_bits(2.0f32.to_bits() + 1);
        let err = identical(&names, &[t(&[1.0, 2.0])], &[t(&[1.0, next])]).unwrap_err();
        match err {
            Error::Nnef(NnefError::Differs { output, index, .. }) => {
                assert_eq!((output.as_str(), index), ("y", 1))
            }
            other => panic!("expected Differs, got {other:?}"),
        }
    }

    #[test]
    fn another_shape_is_a_mismatch() {
        let names = vec!["y".to_owned()];
        let err = identical(&names, &[t(&[1.0, 2.0])], &[t(&[1.0])]).unwrap_err();
        assert!(matches!(err, Error::Nnef(NnefError::Mismatch { .. })));
    }
}
