//! An app's use of the library: load an ACON model in any form (custom ops,
//! model-local functions, a plain PyTorch export) with
//! `acon_onnx::tract::load`, fix its input, optimise it, run it once and
//! print the top-5 classes of each row of its first output.
//!
//! Usage: cargo run --release --example classify -- MODEL.onnx [INPUT.pb]
//! (INPUT.pb is an ONNX TensorProto, as in a test_data_set_N folder; without
//! it the input is a fixed pattern of the model's declared shape).

use std::path::Path;
use std::process::ExitCode;

use acon_onnx::tract::prelude::*;
use prost::Message;

#[path = "common/top5.rs"]
mod top5;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(model), input) = (args.first(), args.get(1)) else {
        eprintln!("usage: classify MODEL.onnx [INPUT.pb]");
        return ExitCode::from(2);
    };
    match classify(Path::new(model), input.map(Path::new)) {
        Ok(ranked) => {
            top5::print(&ranked);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The top-5 classes of each row for `input` (or the pattern).
pub fn classify(model: &Path, input: Option<&Path>) -> anyhow::Result<Vec<Vec<(usize, f32)>>> {
    let model = acon_onnx::tract::load(model)?;
    let input = match input {
        Some(path) => {
            let proto = acon_onnx::proto::TensorProto::decode(std::fs::read(path)?.as_slice())?;
            acon_onnx::tract::tensor::tensor_from_proto(&proto)?
        }
        None => {
            let fact = model.clone().into_typed()?.input_fact(0)?.clone();
            let shape = fact.shape.as_concrete().ok_or_else(|| {
                anyhow::anyhow!(
                    "the input has the symbolic shape {:?}; give INPUT.pb",
                    fact.shape
                )
            })?;
            top5::pattern(shape)
        }
    };
    // The ten lines of README.md: fix the input, optimise, run.
    let plan = model
        .with_input_fact(0, input.datum_type().fact(input.shape()).into())?
        .into_optimized()?
        .into_runnable()?;
    let outputs = plan.run(tvec!(input.into_tvalue()))?;
    top5::top5(&outputs[0])
}
