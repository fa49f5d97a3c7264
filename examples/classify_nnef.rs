//! An edge app's view: load a `convert --to nnef` archive with tract-nnef
//! alone (no tract-onnx, no ACON kernel: the archive holds tract-core ops),
//! run it once on a fixed pattern of its input shape and print the top-5
//! classes of each row. Nothing of acon-onnx is called, so the binary holds
//! what such an app ships (docs/nnef.md compares its size).
//!
//! Usage: cargo run --release --example classify_nnef -- MODEL.nnef.tgz

use std::path::Path;
use std::process::ExitCode;

use tract_nnef::prelude::*;

#[path = "common/top5.rs"]
mod top5;

fn main() -> ExitCode {
    let Some(model) = std::env::args().nth(1) else {
        eprintln!("usage: classify_nnef MODEL.nnef.tgz");
        return ExitCode::from(2);
    };
    match classify(Path::new(&model)) {
        Ok(ranked) => {
            top5::print(&ranked);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: `{model}`: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The top-5 classes of each row for the pattern input.
pub fn classify(model: &Path) -> TractResult<Vec<Vec<(usize, f32)>>> {
    let model = tract_nnef::nnef().model_for_path(model)?;
    let fact = model.input_fact(0)?.clone();
    let shape = fact.shape.as_concrete().ok_or_else(|| {
        TractError::msg(format!("the input has the symbolic shape {:?}", fact.shape))
    })?;
    let input = top5::pattern(shape);
    let plan = model.into_optimized()?.into_runnable()?;
    let outputs = plan.run(tvec!(input.into_tvalue()))?;
    top5::top5(&outputs[0])
}
