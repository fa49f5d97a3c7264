//! The entry point for Rust apps that embed tract: [`load`] an ACON model in
//! any form, custom ops, model-local functions or a plain standard-op export,
//! and get tract's own [`InferenceModel`] back, its ACON activations on the
//! native kernels (the fused one-pass path), ready for the app to fix its
//! input facts, optimise, make runnable and call. [`load_nnef`] reads a
//! `convert --to nnef` archive with tract-nnef alone.
//!
//! These are the steps `run` and `bench` take (see `engine`): functions
//! inlined, recognised blocks made custom-op nodes ([`Pipeline::native`]),
//! every ACON node checked against the spec and given its kernel.
//!
//! [`Pipeline::native`]: crate::Pipeline::native

use std::path::Path;

use tract_onnx::prelude::*;

use crate::passes::ConvertOptions;
use crate::tract::engine::{Kernels, TractModel, guarded};
use crate::tract::error::{Result, TractStep};

/// Loads the ONNX model at `path` into tract, ACON activations on the native
/// kernels, with the default options (ACON ops in the `acon` domain). What
/// README.md shows an app:
///
/// ```no_run
/// use acon_onnx::tract::prelude::*;
///
/// fn classify(image: Tensor) -> anyhow::Result<Vec<f32>> {
///     let model = acon_onnx::tract::load("model.onnx")? // custom ops, functions or a plain export
///         .with_input_fact(0, f32::fact(image.shape()).into())?
///         .into_optimized()?
///         .into_runnable()?;
///     let scores = model.run(tvec!(image.into_tvalue()))?.remove(0);
///     Ok(scores.to_plain_array_view::<f32>()?.iter().copied().collect())
/// }
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<InferenceModel> {
    load_with(path, &ConvertOptions::default())
}

/// [`load`] with options: more ACON domains, passes skipped.
pub fn load_with(path: impl AsRef<Path>, options: &ConvertOptions) -> Result<InferenceModel> {
    let model = TractModel::load(path.as_ref(), "MODEL", Kernels::Native, options)?;
    Ok(model.into_inference())
}

/// Loads an NNEF archive (`.nnef.tgz`, `.nnef.tar`) or folder with
/// tract-nnef's loader alone: what `convert --to nnef` wrote needs no ACON
/// kernel, its activations being tract-core ops.
pub fn load_nnef(path: impl AsRef<Path>) -> Result<TypedModel> {
    let path = path.as_ref();
    guarded("", path, TractStep::LoadNnef, || {
        tract_nnef::nnef().model_for_path(path)
    })
}
