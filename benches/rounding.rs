//! Where `verify`'s end-to-end differences come from on a deep network
//! (docs/verify.md, "End to end"): each evaluation of one model on one
//! random sample, measured by its largest distance from ORIGINAL computed
//! in f64 on the reference kernels ([`acon_onnx::tract::widen::to_f64`]).
//!
//! - ORIGINAL on the reference kernels, in the model's type;
//! - ORIGINAL on the working-precision kernels (every step rounded to the
//!   model's type, tract's σ): the end-to-end rule's second evaluation;
//! - CONVERTED on plain tract, as verify runs it;
//! - CONVERTED with every `Sigmoid` spelt `1/(1+exp(−z))` in the model's
//!   type, which separates tract's σ from the rest of the rounding;
//! - CONVERTED in f64: what is left is the constants it folded and stored.
//!
//! Usage: `cargo bench --bench rounding -- MODEL.onnx [SEED]`, e.g. on
//! `acon-onnx zoo resnet152 --act meta-acon --seed 2 -o r152.onnx`.

use std::path::Path;

use acon_onnx::model::names::NameTable;
use acon_onnx::model::tensor::FloatType;
use acon_onnx::passes::emit::Emitter;
use acon_onnx::proto::ModelProto;
use acon_onnx::tract::engine::{Kernels, TractModel};
use acon_onnx::tract::inputs::{InputOptions, samples};
use acon_onnx::tract::tensor::tensor_to_f64;
use acon_onnx::tract::widen::{to_f64, widen_input};
use acon_onnx::{ConvertOptions, Pipeline};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first() else {
        return Err("usage: cargo bench --bench rounding -- MODEL.onnx [SEED]".into());
    };
    let path = Path::new(path);
    let seed: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(0);
    let options = ConvertOptions::default();
    let original = acon_onnx::load(path)?;
    let mut acon_form = original.clone();
    Pipeline::native().run(&mut acon_form, &options)?;
    let mut converted = original.clone();
    acon_onnx::convert(&mut converted, &options)?;

    let load =
        |m: ModelProto, kernels: Kernels| TractModel::new(m, path, "MODEL", kernels, &options);
    let reference = load(acon_form.clone(), Kernels::Reference)?;
    let inputs = InputOptions {
        seed,
        ..InputOptions::default()
    };
    let sample = samples(&reference.inputs, &reference.outputs, &inputs)?.remove(0);
    let run = |m: &TractModel, wide: bool| -> Result<Vec<f64>> {
        let feed: Vec<_> = if wide {
            sample.inputs.iter().map(widen_input).collect()
        } else {
            sample.inputs.clone()
        };
        Ok(tensor_to_f64(&m.run(&feed)?[0])?)
    };
    let widened = |m: &ModelProto| to_f64(m).ok_or("the model cannot be widened to f64");
    let exact = run(&load(widened(&acon_form)?, Kernels::Reference)?, true)?;
    let rows: [(&str, Vec<f64>); 5] = [
        ("ORIGINAL, reference kernels", run(&reference, false)?),
        (
            "ORIGINAL, working-precision kernels",
            run(&load(acon_form.clone(), Kernels::Working)?, false)?,
        ),
        (
            "CONVERTED on plain tract",
            run(&load(converted.clone(), Kernels::Plain)?, false)?,
        ),
        (
            "CONVERTED, Sigmoid as 1/(1+exp(-z))",
            run(&load(sigmoid_by_exp(&converted), Kernels::Plain)?, false)?,
        ),
        (
            "CONVERTED in f64",
            run(&load(widened(&converted)?, Kernels::Plain)?, true)?,
        ),
    ];
    println!(
        "{}, seed {seed}: max |evaluation − ORIGINAL in f64| on output 0",
        path.display()
    );
    for (what, values) in rows {
        let distance = values
            .iter()
            .zip(&exact)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("  {what:<38} {distance:.3e}");
    }
    Ok(())
}

/// `model` with every main-graph `Sigmoid` spelt `1/(1+exp(−z))` in float,
/// as the decomposition spells it in double ([`Emitter::spelt_sigmoid_into`]).
fn sigmoid_by_exp(model: &ModelProto) -> ModelProto {
    let mut m = model.clone();
    let mut names = NameTable::for_model(model);
    let g = m.graph.as_mut().expect("a graph");
    let mut nodes = vec![];
    for n in std::mem::take(&mut g.node) {
        if n.op_type() != "Sigmoid" {
            nodes.push(n);
            continue;
        }
        let mut em = Emitter::new(n.name(), &mut names, FloatType::F32, 17);
        em.spelt_sigmoid_into(&n.input[0], "sigmoid", &n.output[0]);
        nodes.extend(em.nodes);
        g.initializer.extend(em.initializers);
    }
    g.node = nodes;
    m
}
