//! The benchmark behind `docs/performance.md` (issue 7): one Meta-ACON layer
//! in four arrangements, the ReLU and Sigmoid layers beside it, and whole
//! networks, all on tract, each group interleaved in one run.
//!
//! In run order:
//! 1. build the layer models on `X = [1, 64, 112, 112]` (one set of
//!    weights, R = 16, opset 18): (a) PyTorch's dynamo decomposition, with
//!    the op arrangement of `fixtures/meta_acon_c_traced_op18` (checked
//!    against that file), (b) the textbook order `d = X·P; d·σ(β·d) + X·p2`,
//!    (c) the custom-op model as `acon-onnx convert` emits it, (d) the
//!    custom-op model on the native fused kernel; then `Relu(X)` and
//!    `Sigmoid(X)`, the one-pass floor;
//! 2. check that (a)–(d) compute the same function on one input;
//! 3. time the layers round-robin, the order rotating and reversing every
//!    round so that no variant always runs on a warm cache; every figure is
//!    the minimum over the rounds, and each round also gives a ratio to (a);
//!    twice: with the input shared with the benchmark, then with a fresh
//!    copy per run (`Runner::fresh_inputs`), and targets 1 and 2 take the
//!    worse of the two;
//! 4. the same for MobileNetV2 1.0 and ShuffleNetV2 1.5x from `zoo`: ReLU
//!    twin, Meta-ACON converted (plain tract), Meta-ACON on the native
//!    kernels; then MobileNetV2 with tract's matrix products on 1 and 2
//!    threads, alternating;
//! 5. write the report (Markdown) to `--out` or stdout, with the output of
//!    `benches/convert.sh` (`--convert-log`), of `benches/scale.sh`
//!    (`--scale-log`) and of `benches/onnxruntime_layers.py` (`--ort-log`)
//!    when given; a section that `benches/plain_export.sh` wrote into
//!    `--out` (issue 12, between its marker comments) is kept, after the
//!    report.
//!
//! `cargo bench --profile profiling --bench layers -- [--rounds N] [--net-rounds N]
//! [--out FILE] [--convert-log FILE] [--scale-log FILE] [--ort-log FILE]
//! [--save-models DIR]
//! [--models-only]`; `benches/performance.sh` runs everything and rewrites
//! `docs/performance.md`. `--plan FILE` (repeatable) only prints the
//! profiled tract plan of each model file, as step 3's table has it (used by
//! `benches/plain_export.sh`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use prost::Message;
use tract_linalg::multithread::{Executor, set_default_executor};
use tract_onnx::prelude::*;

use acon_onnx::model::build::{attr_int, attr_ints, tensor_value_info};
use acon_onnx::model::facts::Dim;
use acon_onnx::model::tensor::{Array, FloatType, float_tensor, int64_tensor};
use acon_onnx::ops::DEFAULT_ACON_DOMAIN;
use acon_onnx::proto::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    ValueInfoProto,
};
use acon_onnx::tract::bench::Runner;
use acon_onnx::tract::engine::{Kernels, TractModel};
use acon_onnx::tract::tensor::tensor_to_f64;
use acon_onnx::zoo::{self, Activation, Arch, Rng, ZooOptions};
use acon_onnx::{ConvertOptions, convert};

/// The layer's input: `[1, C, HW, HW]`.
const C: usize = 64;
const HW: usize = 112;
/// Meta-ACON's reduction, `max(16, C / 16)`.
const R: usize = 16;
const OPSET: i64 = 18;
/// The traced fixture whose op arrangement (a) reproduces.
const TRACED: &str = "fixtures/meta_acon_c_traced_op18/model.onnx";

/// Ratio targets of issue 7.
const TARGET_CONVERTED_VS_TORCH: f64 = 0.55;
const TARGET_NATIVE_VS_CONVERTED: f64 = 0.9;
const TARGET_ORT_CONVERTED_VS_TORCH: f64 = 0.85;

struct Args {
    rounds: usize,
    net_rounds: usize,
    warmup: usize,
    out: Option<PathBuf>,
    convert_log: Option<PathBuf>,
    scale_log: Option<PathBuf>,
    ort_log: Option<PathBuf>,
    ort_json: Option<PathBuf>,
    save_models: Option<PathBuf>,
    models_only: bool,
    plans: Vec<PathBuf>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        rounds: 300,
        net_rounds: 40,
        warmup: 10,
        out: None,
        convert_log: None,
        scale_log: None,
        ort_log: None,
        ort_json: None,
        save_models: None,
        models_only: false,
        plans: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            "--rounds" => a.rounds = value()?.parse()?,
            "--net-rounds" => a.net_rounds = value()?.parse()?,
            "--warmup" => a.warmup = value()?.parse()?,
            "--out" => a.out = Some(value()?.into()),
            "--convert-log" => a.convert_log = Some(value()?.into()),
            "--scale-log" => a.scale_log = Some(value()?.into()),
            "--ort-log" => a.ort_log = Some(value()?.into()),
            "--ort-json" => a.ort_json = Some(value()?.into()),
            "--save-models" => a.save_models = Some(value()?.into()),
            "--models-only" => a.models_only = true,
            "--plan" => a.plans.push(value()?.into()),
            other => bail!("unknown argument `{other}` (see the doc comment of benches/layers.rs)"),
        }
    }
    ensure!(
        a.rounds > 0 && a.net_rounds > 0,
        "--rounds and --net-rounds must be at least 1"
    );
    Ok(a)
}

fn main() -> Result<()> {
    let args = args()?;
    if !args.plans.is_empty() {
        return plans(&args);
    }
    let started = now_utc();
    let load_before = loadavg();
    let w = LayerWeights::new(7);
    let layers = [
        (
            "a",
            "Meta-ACON as PyTorch's exporter decomposes it (a)",
            dynamo(&w),
        ),
        (
            "b",
            "Meta-ACON in textbook order, `d = X·P; d·σ(β·d) + X·p2` (b)",
            textbook(&w),
        ),
        (
            "c",
            "Meta-ACON as `acon-onnx convert` emits it (c)",
            converted(&w)?,
        ),
        (
            "d",
            "Meta-ACON custom op on the native fused kernel (d)",
            custom(&w),
        ),
        ("relu", "ReLU", unary("Relu")),
        ("sigmoid", "Sigmoid (the one-pass floor)", unary("Sigmoid")),
    ];
    check_traced_arrangement(&layers[0].2)?;
    if let Some(dir) = &args.save_models {
        std::fs::create_dir_all(dir)?;
        for (key, _, model) in &layers {
            std::fs::write(dir.join(format!("{key}.onnx")), model.encode_to_vec())?;
        }
        eprintln!("layer models written to {}", dir.display());
        if args.models_only {
            return Ok(());
        }
    }

    let x = random_tensor(&[1, C, HW, HW], 11);
    let mut loaded = vec![];
    for (key, label, model) in &layers {
        let kernels = if *key == "d" {
            Kernels::Native
        } else {
            Kernels::Plain
        };
        let ops = op_summary(model);
        let m = load(model.clone(), key, kernels)?;
        loaded.push((*key, *label, ops, m));
    }
    let check = check_equivalence(&loaded, &x)?;
    eprintln!("layers: {} rounds", args.rounds);
    let models: Vec<&TractModel> = loaded.iter().map(|l| &l.3).collect();
    let layer_times = interleave(
        &models,
        std::slice::from_ref(&x),
        args.rounds,
        args.warmup,
        false,
    )?;
    eprintln!("layers, a fresh input per run: {} rounds", args.rounds);
    let fresh_times = interleave(
        &models,
        std::slice::from_ref(&x),
        args.rounds,
        args.warmup,
        true,
    )?;
    let profiles = loaded
        .iter()
        .filter(|l| l.0 != "relu")
        .map(|(key, _, _, m)| Ok((key.to_string(), profile(m, &x, args.rounds.min(100))?)))
        .collect::<Result<Vec<_>>>()?;

    let mut nets = vec![];
    for (arch, width, title) in [
        (Arch::MobileNetV2, 1.0, "MobileNetV2 1.0"),
        (Arch::ShuffleNetV2, 1.5, "ShuffleNetV2 1.5x"),
    ] {
        eprintln!("{title}: {} rounds", args.net_rounds);
        nets.push(network(arch, width, title, &args)?);
    }
    eprintln!("threads: {} rounds", args.net_rounds);
    let threads = threads(&args)?;
    let load_after = loadavg();

    let report = Report {
        args: &args,
        started,
        load_before,
        load_after,
        layers: loaded
            .iter()
            .zip(layer_times.iter().zip(&fresh_times))
            .map(|((key, label, ops, _), (t, fresh))| Row {
                key,
                label,
                ops: ops.clone(),
                times: t.clone(),
                fresh: fresh.clone(),
            })
            .collect(),
        check,
        profiles,
        nets,
        threads,
    }
    .render()?;
    match &args.out {
        Some(path) => {
            let kept = std::fs::read_to_string(path)
                .ok()
                .and_then(|old| kept_section(&old));
            let report = match kept {
                Some(section) => format!("{report}\n{section}"),
                None => report,
            };
            std::fs::write(path, &report)?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{report}"),
    }
    Ok(())
}

/// The section `benches/plain_export.sh` writes into the same file (issue
/// 12), between its markers: kept as it is, after this report.
fn kept_section(old: &str) -> Option<String> {
    const BEGIN: &str = "<!-- BEGIN plain_export.sh";
    const END: &str = "<!-- END plain_export.sh -->";
    let start = old.find(BEGIN)?;
    let end = start + old[start..].find(END)? + END.len();
    Some(format!("{}\n", &old[start..end]))
}

// ---- the layer models ------------------------------------------------------

/// One set of Meta-ACON weights, shared by every arrangement.
struct LayerWeights {
    p1: Vec<f64>,
    p2: Vec<f64>,
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: Vec<f64>,
}

impl LayerWeights {
    fn new(seed: u64) -> LayerWeights {
        let mut rng = Rng::new(seed);
        let fan = |n: usize| 1.0 / (n as f64).sqrt();
        LayerWeights {
            p1: rng.normal_vec(C, 1.0, 0.25),
            p2: rng.normal_vec(C, 0.0, 0.25),
            w1: rng.uniform_vec(R * C, -fan(C), fan(C)),
            b1: rng.uniform_vec(R, -fan(C), fan(C)),
            w2: rng.uniform_vec(C * R, -fan(R), fan(R)),
            b2: rng.uniform_vec(C, -fan(R), fan(R)),
        }
    }

    /// `P = p1 − p2`, folded in f64 as the converter folds it.
    fn p(&self) -> Vec<f64> {
        self.p1.iter().zip(&self.p2).map(|(a, b)| a - b).collect()
    }
}

/// A graph under construction: nodes in order, initializers.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    acon: bool,
}

const PER_CHANNEL: [usize; 4] = [1, C, 1, 1];

impl Graph {
    fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attrs: Vec<AttributeProto>,
    ) -> String {
        self.nodes.push(NodeProto {
            name: Some(format!("node_{output}")),
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute: attrs,
            ..Default::default()
        });
        output.into()
    }

    fn init(&mut self, name: &str, dims: &[usize], data: &[f64]) -> String {
        let array = Array {
            dims: dims.to_vec(),
            data: data.to_vec(),
        };
        self.inits.push(float_tensor(name, &array, FloatType::F32));
        name.into()
    }

    fn axes(&mut self, name: &str, axes: &[i64]) -> String {
        self.inits.push(int64_tensor(name, axes));
        name.into()
    }

    fn reduce_mean(&mut self, x: &str, axes: &[i64], out: &str) -> String {
        let a = self.axes(&format!("{out}.axes"), axes);
        self.node("ReduceMean", &[x, &a], out, vec![attr_int("keepdims", 1)])
    }

    fn conv1x1(&mut self, x: &str, w: &str, b: &str, out: &str) -> String {
        self.node(
            "Conv",
            &[x, w, b],
            out,
            vec![attr_ints("kernel_shape", &[1, 1])],
        )
    }

    fn fc(&mut self, w: &LayerWeights) -> [String; 4] {
        [
            self.init("fc1.weight", &[R, C, 1, 1], &w.w1),
            self.init("fc1.bias", &[R], &w.b1),
            self.init("fc2.weight", &[C, R, 1, 1], &w.w2),
            self.init("fc2.bias", &[C], &w.b2),
        ]
    }

    fn model(self, name: &str) -> ModelProto {
        let mut opset_import = vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }];
        if self.acon {
            opset_import.push(OperatorSetIdProto {
                domain: Some(DEFAULT_ACON_DOMAIN.into()),
                version: Some(1),
            });
        }
        ModelProto {
            ir_version: Some(8),
            producer_name: Some("acon-onnx benches/layers.rs".into()),
            opset_import,
            graph: Some(GraphProto {
                name: Some(name.into()),
                node: self.nodes,
                initializer: self.inits,
                input: vec![value_info("x")],
                output: vec![value_info("y")],
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// (a) What `torch.onnx.export(..., dynamo=True)` writes for the module
/// (see `fixtures/meta_acon_c_traced_op18`, BatchNorm folded into the convs
/// by onnxscript's optimizer, `p1 − p2` folded into `sub`):
///
/// ```text
/// mean = ReduceMean(x, [2]); mean_1 = ReduceMean(mean, [3])
/// beta = σ(Conv(Conv(mean_1)))
/// mul = sub·x; mul_1 = beta·mul; mul_2 = mul·σ(mul_1); mul_3 = p2·x
/// y = mul_2 + mul_3
/// ```
fn dynamo(w: &LayerWeights) -> ModelProto {
    let mut g = Graph::default();
    let mean = g.reduce_mean("x", &[2], "mean");
    let mean_1 = g.reduce_mean(&mean, &[3], "mean_1");
    let [w1, b1, w2, b2] = g.fc(w);
    let h = g.conv1x1(&mean_1, &w1, &b1, "getitem");
    let gate = g.conv1x1(&h, &w2, &b2, "getitem_3");
    let beta = g.node("Sigmoid", &[&gate], "sigmoid", vec![]);
    let sub = g.init("sub", &PER_CHANNEL, &w.p());
    let p2 = g.init("p2", &PER_CHANNEL, &w.p2);
    let mul = g.node("Mul", &[&sub, "x"], "mul", vec![]);
    let mul_1 = g.node("Mul", &[&beta, &mul], "mul_1", vec![]);
    let s = g.node("Sigmoid", &[&mul_1], "sigmoid_1", vec![]);
    let mul_2 = g.node("Mul", &[&mul, &s], "mul_2", vec![]);
    let mul_3 = g.node("Mul", &[&p2, "x"], "mul_3", vec![]);
    g.node("Add", &[&mul_2, &mul_3], "y", vec![]);
    g.model("meta_acon_dynamo")
}

/// (b) `d = X·P; Y = d·σ(β·d) + X·p2`, the running value first.
fn textbook(w: &LayerWeights) -> ModelProto {
    let mut g = Graph::default();
    let mean = g.reduce_mean("x", &[2, 3], "mean");
    let [w1, b1, w2, b2] = g.fc(w);
    let h = g.conv1x1(&mean, &w1, &b1, "fc1");
    let gate = g.conv1x1(&h, &w2, &b2, "fc2");
    let beta = g.node("Sigmoid", &[&gate], "beta", vec![]);
    let p = g.init("p", &PER_CHANNEL, &w.p());
    let p2 = g.init("p2", &PER_CHANNEL, &w.p2);
    let d = g.node("Mul", &["x", &p], "d", vec![]);
    let z = g.node("Mul", &[&d, &beta], "z", vec![]);
    let s = g.node("Sigmoid", &[&z], "s", vec![]);
    let ds = g.node("Mul", &[&d, &s], "ds", vec![]);
    let xp2 = g.node("Mul", &["x", &p2], "xp2", vec![]);
    g.node("Add", &[&ds, &xp2], "y", vec![]);
    g.model("meta_acon_textbook")
}

/// (d) One `acon::MetaAconC` node (without the optional BatchNorm groups,
/// which every arrangement folds into the convs anyway).
fn custom(w: &LayerWeights) -> ModelProto {
    let mut g = Graph {
        acon: true,
        ..Default::default()
    };
    let p1 = g.init("p1", &PER_CHANNEL, &w.p1);
    let p2 = g.init("p2", &PER_CHANNEL, &w.p2);
    let [w1, b1, w2, b2] = g.fc(w);
    g.node(
        "MetaAconC",
        &["x", &p1, &p2, &w1, &b1, &w2, &b2],
        "y",
        vec![],
    );
    g.nodes[0].domain = Some(DEFAULT_ACON_DOMAIN.into());
    g.model("meta_acon_custom_op")
}

/// (c) `custom` converted by the library, as `acon-onnx convert` does.
fn converted(w: &LayerWeights) -> Result<ModelProto> {
    let mut m = custom(w);
    convert(&mut m, &ConvertOptions::default()).context("convert the custom-op layer")?;
    Ok(m)
}

fn unary(op: &str) -> ModelProto {
    let mut g = Graph::default();
    g.node(op, &["x"], "y", vec![]);
    g.model(&op.to_lowercase())
}

fn value_info(name: &str) -> ValueInfoProto {
    let dims = [1, C, HW, HW].map(|d| Dim::Known(d as i64));
    tensor_value_info(name, DataType::Float as i32, &dims)
}

/// Each node as `Op(inputs)`, an input written as `X` (the graph input), `K`
/// (a constant) or `%i` (the output of node i): the op arrangement, without
/// names, weights or attributes.
fn arrangement(m: &ModelProto) -> Vec<String> {
    let g = m.graph.as_ref().expect("a graph");
    let inits: Vec<&str> = g.initializer.iter().map(|t| t.name()).collect();
    let mut produced: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = vec![];
    for (i, n) in g.node.iter().enumerate() {
        let ins: Vec<String> = n
            .input
            .iter()
            .map(|name| {
                if let Some(k) = produced.get(name.as_str()) {
                    format!("%{k}")
                } else if inits.contains(&name.as_str()) {
                    "K".into()
                } else {
                    "X".into()
                }
            })
            .collect();
        out.push(format!("{}({})", n.op_type(), ins.join(", ")));
        for o in &n.output {
            produced.insert(o, i);
        }
    }
    out
}

/// (a) must have the traced fixture's arrangement, input order included:
/// tract fuses a Mul chain only when the running value comes first.
fn check_traced_arrangement(a: &ModelProto) -> Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(TRACED);
    let traced = acon_onnx::load(&path).with_context(|| format!("load {}", path.display()))?;
    let (want, got) = (arrangement(&traced), arrangement(a));
    ensure!(
        want == got,
        "arrangement (a) differs from {TRACED}:\n  traced: {}\n  (a):    {}",
        want.join("; "),
        got.join("; ")
    );
    Ok(())
}

/// `ReduceMean×2, Conv×2, …` in order of first appearance.
fn op_summary(m: &ModelProto) -> String {
    let mut counts: Vec<(String, usize)> = vec![];
    for n in &m.graph.as_ref().expect("a graph").node {
        let op = n.op_type().to_owned();
        match counts.iter_mut().find(|(o, _)| *o == op) {
            Some((_, k)) => *k += 1,
            None => counts.push((op, 1)),
        }
    }
    counts
        .iter()
        .map(|(op, k)| {
            if *k == 1 {
                op.clone()
            } else {
                format!("{op}×{k}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- running ---------------------------------------------------------------

fn load(model: ModelProto, name: &str, kernels: Kernels) -> Result<TractModel> {
    let path = PathBuf::from(format!("{name}.onnx"));
    Ok(TractModel::new(
        model,
        &path,
        "MODEL",
        kernels,
        &ConvertOptions::default(),
    )?)
}

fn random_tensor(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(seed);
    let data: Vec<f32> = (0..n).map(|_| rng.uniform(-3.0, 3.0) as f32).collect();
    Tensor::from_shape(shape, &data).expect("shape matches data")
}

/// The largest |difference| of each Meta-ACON arrangement from (d), the
/// native kernel written from the spec.
fn check_equivalence(
    layers: &[(&str, &str, String, TractModel)],
    x: &Tensor,
) -> Result<Vec<(String, f64)>> {
    let output = |m: &TractModel| -> Result<Vec<f64>> {
        Ok(tensor_to_f64(&m.run(std::slice::from_ref(x))?.remove(0))?)
    };
    let reference = output(&layers.iter().find(|l| l.0 == "d").expect("(d)").3)?;
    let mut out = vec![];
    for (key, ..) in layers.iter().filter(|l| ["a", "b", "c"].contains(&l.0)) {
        let m = &layers.iter().find(|l| l.0 == *key).expect("listed").3;
        let y = output(m)?;
        let diff = y
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        ensure!(
            diff < 1e-4,
            "arrangement ({key}) differs from the native kernel by {diff}"
        );
        out.push((key.to_string(), diff));
    }
    Ok(out)
}

/// Times of each model over `rounds` interleaved rounds, in milliseconds.
/// Round r runs the models in an order rotated by r, reversed every other
/// round.
fn interleave(
    models: &[&TractModel],
    inputs: &[Tensor],
    rounds: usize,
    warmup: usize,
    fresh_inputs: bool,
) -> Result<Vec<Vec<f64>>> {
    let mut runners = models
        .iter()
        .map(|m| Runner::new(m, inputs).map(|r| r.fresh_inputs(fresh_inputs)))
        .collect::<Result<Vec<_>, _>>()?;
    let n = runners.len();
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..warmup + rounds {
        let mut order: Vec<usize> = (0..n).map(|i| (i + round) % n).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let t = runners[i].time()?;
            if round >= warmup {
                times[i].push(t);
            }
        }
    }
    Ok(times)
}

/// Each step of the optimized tract plan that is not a constant: its op
/// and the minimum over `rounds` runs of its time, in milliseconds.
fn profile(model: &TractModel, x: &Tensor, rounds: usize) -> Result<Vec<(String, f64)>> {
    use tract_onnx::tract_core::plan::eval;
    let plan = model.plan(std::slice::from_ref(x))?;
    let mut state = plan.spawn()?;
    let mut best: BTreeMap<usize, f64> = BTreeMap::new();
    for _ in 0..rounds {
        state.run_plan_with_eval(
            tvec![x.clone().into_tvalue()],
            |ctx, op_state, node, inputs| {
                let t = std::time::Instant::now();
                let out = eval(ctx, op_state, node, inputs);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let e = best.entry(node.id).or_insert(f64::INFINITY);
                *e = e.min(ms);
                out
            },
        )?;
    }
    let model = plan.model();
    Ok(plan
        .order_without_consts()
        .iter()
        .map(|&id| {
            let node = model.node(id);
            (
                format!("{}", node.op().name()),
                best.get(&id).copied().unwrap_or(f64::NAN),
            )
        })
        .filter(|(op, _)| op != "Source")
        .collect())
}

/// `--plan FILE`: the profiled plan of each model file on plain tract, one
/// Markdown row each, on stdout (for `benches/plain_export.sh`).
fn plans(args: &Args) -> Result<()> {
    let rounds = args.rounds.min(100);
    println!("| model | tract plan on plain tract: op (min ms over {rounds} runs) |\n|---|---|");
    for path in &args.plans {
        let m = TractModel::load(path, "MODEL", Kernels::Plain, &ConvertOptions::default())?;
        let shape = m
            .inputs
            .first()
            .and_then(|i| i.shape.as_ref())
            .and_then(|dims| {
                dims.iter()
                    .map(|d| match d {
                        Dim::Known(n) => usize::try_from(*n).ok(),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .with_context(|| format!("{}: one input of fixed shape expected", path.display()))?;
        let steps = profile(&m, &random_tensor(&shape, 11), rounds)?;
        let steps: Vec<String> = steps
            .iter()
            .map(|(op, ms)| format!("{op} ({ms:.3})"))
            .collect();
        println!("| `{}` | {} |", path.display(), steps.join(" → "));
    }
    Ok(())
}

struct Net {
    title: &'static str,
    rows: Vec<(&'static str, String, Vec<f64>)>,
}

fn network(arch: Arch, width: f64, title: &'static str, args: &Args) -> Result<Net> {
    let build = |act| {
        let mut o = ZooOptions::new(arch, act);
        o.width = Some(width);
        zoo::build(&o).with_context(|| format!("zoo {title}"))
    };
    let relu = build(Activation::Relu)?;
    let meta = build(Activation::MetaAcon)?;
    let mut meta_std = meta.clone();
    convert(&mut meta_std, &ConvertOptions::default())?;
    let slots = meta.graph.as_ref().map_or(0, |g| {
        g.node.iter().filter(|n| n.op_type() == "MetaAconC").count()
    });
    let models = [
        ("ReLU twin", load(relu, "relu", Kernels::Plain)?),
        (
            "Meta-ACON, converted",
            load(meta_std, "converted", Kernels::Plain)?,
        ),
        (
            "Meta-ACON, native kernel",
            load(meta, "native", Kernels::Native)?,
        ),
    ];
    let x = random_tensor(&[1, 3, 224, 224], 5);
    let refs: Vec<&TractModel> = models.iter().map(|m| &m.1).collect();
    let times = interleave(&refs, &[x], args.net_rounds, args.warmup.min(3), false)?;
    Ok(Net {
        title,
        rows: models
            .iter()
            .zip(times)
            .map(|((label, _), t)| (*label, format!("{slots} Meta-ACON slots"), t))
            .collect(),
    })
}

struct Threads {
    one: Vec<f64>,
    two: Vec<f64>,
}

/// MobileNetV2 1.0 Meta-ACON converted, tract's matrix products on one
/// thread and on a pool of two, alternating run by run.
fn threads(args: &Args) -> Result<Threads> {
    let mut o = ZooOptions::new(Arch::MobileNetV2, Activation::MetaAcon);
    o.standard = true;
    let model = load(zoo::build(&o)?, "mobilenet_v2", Kernels::Plain)?;
    let x = random_tensor(&[1, 3, 224, 224], 5);
    let mut runner = Runner::new(&model, &[x])?;
    let pool = Executor::multithread(2);
    let (mut one, mut two) = (vec![], vec![]);
    for round in 0..args.warmup.min(3) + args.net_rounds {
        let record = round >= args.warmup.min(3);
        let mut order = [false, true];
        if round % 2 == 1 {
            order.reverse();
        }
        for pooled in order {
            set_default_executor(if pooled {
                pool.clone()
            } else {
                Executor::SingleThread
            });
            let t = runner.time()?;
            if record {
                if pooled { two.push(t) } else { one.push(t) }
            }
        }
    }
    set_default_executor(Executor::SingleThread);
    Ok(Threads { one, two })
}

// ---- the report --------------------------------------------------------------

struct Row<'a> {
    key: &'a str,
    label: &'a str,
    ops: String,
    /// Times with the input shared with the benchmark.
    times: Vec<f64>,
    /// Times with a fresh input per run.
    fresh: Vec<f64>,
}

struct Report<'a> {
    args: &'a Args,
    started: String,
    load_before: String,
    load_after: String,
    layers: Vec<Row<'a>>,
    check: Vec<(String, f64)>,
    profiles: Vec<(String, Vec<(String, f64)>)>,
    nets: Vec<Net>,
    threads: Threads,
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((q * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)]
}

/// Per-round ratios `a[i] / b[i]`: median, p10, p90.
fn round_ratios(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    (quantile(&r, 0.5), quantile(&r, 0.1), quantile(&r, 0.9))
}

/// Rounds are cut into this many consecutive blocks, and the ratio of
/// minimums is taken in each: how much the headline ratio depends on which
/// stretch of the run it comes from.
const BLOCKS: usize = 5;

/// The smallest and largest ratio of minimums `min(a) / min(b)` over
/// [`BLOCKS`] consecutive blocks of rounds.
fn block_ratios(a: &[f64], b: &[f64]) -> (f64, f64) {
    let size = a.len().div_ceil(BLOCKS).max(1);
    a.chunks(size)
        .zip(b.chunks(size))
        .map(|(x, y)| min(x) / min(y))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        })
}

fn verdict(ratio: f64, target: f64) -> String {
    if ratio <= target {
        format!("**met** ({ratio:.2}× ≤ {target}×)")
    } else {
        format!(
            "**missed** ({ratio:.2}× > {target}×, by {:.0}%)",
            (ratio / target - 1.0) * 100.0
        )
    }
}

impl Report<'_> {
    fn row(&self, key: &str) -> &Row<'_> {
        self.layers
            .iter()
            .find(|r| r.key == key)
            .expect("a layer row")
    }

    fn render(&self) -> Result<String> {
        let mut s = String::new();
        let a = self.row("a");
        let floor = min(&self.row("sigmoid").times);
        let fresh_floor = min(&self.row("sigmoid").fresh);
        let _ = writeln!(s, "# Performance\n");
        let _ = writeln!(
            s,
            "<!-- Generated by `benches/performance.sh` (`cargo bench --profile profiling --bench layers`); \
             do not edit by hand. Every figure below comes from the run of {}, except \
             those of the section \"Plain PyTorch exports (issue 12)\" at the end, which \
             `benches/plain_export.sh` writes and this script keeps. -->\n",
            self.started
        );
        let _ = writeln!(
            s,
            "What one Meta-ACON activation costs on a CPU, and the targets of issue 7. \
             An activation is memory-bound: what counts is the number of passes over \
             the activation tensor. All figures come from one run of the benchmark; \
             absolute times on a shared machine move by several times from hour to \
             hour, so compare the ratios, which are measured side by side.\n"
        );

        self.anchor_table(&mut s)?;

        let _ = writeln!(s, "## One layer on tract, `X = [1, {C}, {HW}, {HW}]`\n");
        let _ = writeln!(
            s,
            "Single thread; the six layers ran interleaved, {} rounds after {} warm-up \
             rounds, the order rotating every round. *min* is the minimum over the rounds \
             (the figure the targets use), *× (a)* the ratio of minimums, *per round* the \
             median [p10–p90] of the ratios taken within each round, *× floor* the \
             minimum over the Sigmoid layer's. Inputs: every run is handed the same X, \
             which the benchmark keeps, so tract copies X before the first in-place op on \
             it. That copy is in every Meta-ACON arrangement anyway (X is read again at the \
             end); it also makes the Sigmoid and ReLU layers a copy plus an in-place pass \
             (their plan steps below show the pass alone). [Shared or fresh \
             input](#shared-or-fresh-input) times the same layers with a fresh X per run.\n",
            self.args.rounds, self.args.warmup
        );
        let _ = writeln!(
            s,
            "| layer | ops | min ms | median ms | × (a) | per round × (a) | × floor |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for r in &self.layers {
            let m = min(&r.times);
            let (med, p10, p90) = round_ratios(&r.times, &a.times);
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {:.3} | {:.2}× | {:.2} [{:.2}–{:.2}] | {:.2}× |",
                r.label,
                r.ops,
                m,
                quantile(&r.times, 0.5),
                m / min(&a.times),
                med,
                p10,
                p90,
                m / floor
            );
        }
        let _ = writeln!(
            s,
            "\n`P = p1 − p2`, R = {R}, opset {OPSET}; (a) has the op arrangement of \
             `{TRACED}` (checked by the benchmark, input order included). (a), (b) and (c) \
             agree with (d), the kernel written from the spec, to {} (largest |difference| \
             on one input in [−3, 3]).\n",
            self.check
                .iter()
                .map(|(k, d)| format!("{d:.1e} ({k})"))
                .collect::<Vec<_>>()
                .join(", ")
        );

        let _ = writeln!(
            s,
            "What tract runs for each layer after optimisation: the steps of its plan \
             and the minimum time of each over {} runs (ms, timed one step at a time, so \
             they add up to a little more than the layer's minimum). Every step that \
             touches the whole tensor is a pass.\n",
            self.args.rounds.min(100)
        );
        let _ = writeln!(s, "| layer | tract plan: op (min ms) |\n|---|---|");
        for (key, steps) in &self.profiles {
            let _ = writeln!(
                s,
                "| ({key}) | {} |",
                steps
                    .iter()
                    .map(|(op, ms)| format!("{op} ({ms:.3})"))
                    .collect::<Vec<_>>()
                    .join(" → ")
            );
        }
        let _ = writeln!(s);

        self.fresh_section(&mut s);

        let c = self.row("c");
        let d = self.row("d");
        let t1 = min(&c.times) / min(&a.times);
        let t2 = min(&d.times) / min(&c.times);
        let t1_fresh = min(&c.fresh) / min(&a.fresh);
        let t2_fresh = min(&d.fresh) / min(&c.fresh);
        let (t1_med, t1_p10, t1_p90) = round_ratios(&c.times, &a.times);
        let (t2_med, t2_p10, t2_p90) = round_ratios(&d.times, &c.times);
        let _ = writeln!(s, "## Targets\n");
        let _ = writeln!(
            s,
            "Targets 1 and 2 are judged on the worse of the two ways of feeding the input \
             (see [Shared or fresh input](#shared-or-fresh-input)).\n"
        );
        let _ = writeln!(
            s,
            "1. Converted layer (c) ÷ PyTorch's decomposition (a) on plain tract: \
             {:.2}× with the input shared (per round {:.2} [{:.2}–{:.2}]; ratio of \
             minimums in each fifth of the run {:.2}–{:.2}), {:.2}× with a fresh input per \
             run (fifths {:.2}–{:.2}), target ≤ {TARGET_CONVERTED_VS_TORCH}×: {}.",
            t1,
            t1_med,
            t1_p10,
            t1_p90,
            block_ratios(&c.times, &a.times).0,
            block_ratios(&c.times, &a.times).1,
            t1_fresh,
            block_ratios(&c.fresh, &a.fresh).0,
            block_ratios(&c.fresh, &a.fresh).1,
            verdict(t1.max(t1_fresh), TARGET_CONVERTED_VS_TORCH)
        );
        let _ = writeln!(
            s,
            "2. Native fused kernel (d) ÷ converted layer (c): {:.2}× with the input \
             shared (per round {:.2} [{:.2}–{:.2}]; in each fifth of the run {:.2}–{:.2}), \
             {:.2}× with a fresh input per run, target ≤ {TARGET_NATIVE_VS_CONVERTED}×: {}. \
             Against the Sigmoid layer (the one-pass floor) it takes {:.2}×, the converted \
             layer {:.2}× (shared input; with a fresh input {:.2}× and {:.2}×).",
            t2,
            t2_med,
            t2_p10,
            t2_p90,
            block_ratios(&d.times, &c.times).0,
            block_ratios(&d.times, &c.times).1,
            t2_fresh,
            verdict(t2.max(t2_fresh), TARGET_NATIVE_VS_CONVERTED),
            min(&d.times) / floor,
            min(&c.times) / floor,
            min(&d.fresh) / fresh_floor,
            min(&c.fresh) / fresh_floor
        );
        let ort = self.ort()?;
        match (ort.get("c"), ort.get("a")) {
            (Some(oc), Some(oa)) => {
                let _ = writeln!(
                    s,
                    "3. onnxruntime, converted (c) ÷ PyTorch's decomposition (a): {:.2}× \
                     (details in [onnxruntime](#onnxruntime)), target ≤ {TARGET_ORT_CONVERTED_VS_TORCH}×: {}.",
                    oc / oa,
                    verdict(oc / oa, TARGET_ORT_CONVERTED_VS_TORCH)
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "3. onnxruntime: not run this time (optional script, outside CI)."
                );
            }
        }
        let _ = writeln!(s, "4. Whole networks: reported below, not targeted.");
        let convert_targets: Vec<String> = match &self.args.convert_log {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("--convert-log {}", p.display()))?
                .lines()
                .filter(|l| l.contains("target"))
                .map(|l| format!("`{}`", l.split_whitespace().collect::<Vec<_>>().join(" ")))
                .collect(),
            None => vec![],
        };
        let _ = writeln!(
            s,
            "5. Conversion ([Conversion](#conversion), from `benches/convert.sh`): {}.",
            if convert_targets.is_empty() {
                "not run this time".to_owned()
            } else {
                convert_targets.join("; ")
            }
        );
        let _ = writeln!(s, "6. Threads: see [Threads](#threads).\n");

        self.floor_section(&mut s, fresh_floor, t1.max(t1_fresh), t2.max(t2_fresh));

        let _ = writeln!(s, "## Whole networks on tract\n");
        let _ = writeln!(
            s,
            "`acon-onnx zoo` networks at 224×224, batch 1, seeded random weights; the \
             Meta-ACON and ReLU twins share every other weight. Single thread, the three \
             models interleaved, {} rounds. *× ReLU* is the ratio of minimums, *per round* \
             the median [p10–p90] of the ratios within each round (the spread).\n",
            self.args.net_rounds
        );
        let _ = writeln!(
            s,
            "| network | model | min ms | median ms | × ReLU | per round × ReLU |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for net in &self.nets {
            let relu = &net.rows[0].2;
            for (label, note, t) in &net.rows {
                let (med, p10, p90) = round_ratios(t, relu);
                let label = if *label == "ReLU twin" {
                    label.to_string()
                } else {
                    format!("{label} ({note})")
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.2} | {:.2} | {:.3}× | {:.3} [{:.3}–{:.3}] |",
                    net.title,
                    label,
                    min(t),
                    quantile(t, 0.5),
                    min(t) / min(relu),
                    med,
                    p10,
                    p90
                );
            }
        }

        let _ = writeln!(s, "\n## Threads\n");
        let th = &self.threads;
        let (med, p10, p90) = round_ratios(&th.two, &th.one);
        let _ = writeln!(
            s,
            "MobileNetV2 1.0 Meta-ACON converted, tract's matrix products on tract-linalg's \
             single-threaded executor and on a rayon pool of 2 (`multithread-mm`, what \
             `bench --threads 2` / `run --threads 2` select), alternating run by run, {} \
             rounds. Matrix products use the pool above tract-linalg's threshold (64 \
             panels by default); element-wise, binary, reduce and depthwise ops, and \
             the fused ACON kernels, above 32,768 elements (`tract-linalg`'s \
             `multithread.rs`; figures per op kind in [Threads, by op \
             kind](#threads-by-op-kind-issue-14)).\n",
            self.args.net_rounds
        );
        let _ = writeln!(s, "| executor | min ms | median ms |\n|---|---|---|");
        let _ = writeln!(
            s,
            "| 1 thread | {:.2} | {:.2} |",
            min(&th.one),
            quantile(&th.one, 0.5)
        );
        let _ = writeln!(
            s,
            "| 2 threads | {:.2} | {:.2} |",
            min(&th.two),
            quantile(&th.two, 0.5)
        );
        let _ = writeln!(
            s,
            "\n`--threads 2` ÷ `--threads 1`: {:.2}× (ratio of minimums); per round {:.2} \
             [{:.2}–{:.2}]. The load average was {} before the run and {} after it: on a \
             2-core machine a second busy process takes the second thread's core.\n",
            min(&th.two) / min(&th.one),
            med,
            p10,
            p90,
            self.load_before,
            self.load_after
        );

        let _ = writeln!(s, "## onnxruntime\n");
        match &self.args.ort_log {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("--ort-log {}", p.display()))?;
                let _ = writeln!(
                    s,
                    "Output of `benches/onnxruntime_layers.py` on the same layer models \
                     (written by `--save-models`), in this run:\n\n{}\n",
                    text.trim_end()
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "Not run this time (`benches/onnxruntime_layers.py` needs a Python \
                     venv with onnxruntime; see `benches/performance.sh`).\n"
                );
            }
        }

        let _ = writeln!(s, "## Conversion\n");
        match &self.args.convert_log {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("--convert-log {}", p.display()))?;
                let _ = writeln!(
                    s,
                    "Output of `benches/convert.sh` in this run (targets: convert time ≤ 1.5× \
                     the copy, peak RSS ≤ 1.2× the model size):\n\n```text\n{}\n```\n\n\
                     Weights are copied from the input file, never through its memory map: by \
                     a kernel copy (`copy_file_range`) when a tensor's output offset agrees with \
                     its input offset modulo 64 KiB, as in the round trip, and by `pread` \
                     through a 1 MiB buffer written in full, aligned blocks otherwise, as after \
                     a rewrite, which moves every later tensor (`src/model/sink.rs`). The \
                     output's space is reserved up front (`fallocate`).\n",
                    text.trim_end()
                );
            }
            None => {
                let _ = writeln!(s, "Not run this time (`benches/convert.sh`).\n");
            }
        }

        let _ = writeln!(s, "## Scale\n");
        match &self.args.scale_log {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("--scale-log {}", p.display()))?;
                let _ = writeln!(
                    s,
                    "How `convert` and `inspect` scale with the number of nodes (issue #15): chains \
                     of 1k to 64k `acon::AconC` nodes on `[1, 8, 4, 4]`, one parameter set each, \
                     and 1M `Relu` nodes, generated outside the timed part. Output of \
                     `benches/scale.sh` in this run (targets: time per node flat within 2× across \
                     the sizes, 64k ACON nodes converted in under 2 s; CPU time is user + system, \
                     to 10 ms):\n\n```text\n{}\n```\n",
                    text.trim_end()
                );
            }
            None => {
                let _ = writeln!(s, "Not run this time (`benches/scale.sh`).\n");
            }
        }

        let _ = writeln!(s, "## Machine, versions, commands\n");
        let _ = writeln!(s, "- date: {}", self.started);
        let _ = writeln!(s, "- CPU: {} × `{}`", nproc(), cpu_model());
        let _ = writeln!(
            s,
            "- load average (1, 5, 15 min): {} before, {} after",
            self.load_before, self.load_after
        );
        let _ = writeln!(s, "- {}", command_line("rustc", &["-V"]));
        let _ = writeln!(s, "- {}", versions());
        let _ = writeln!(
            s,
            "- acon-onnx {} at {}",
            env!("CARGO_PKG_VERSION"),
            git_revision()
        );
        let _ = writeln!(
            s,
            "- commands: `benches/performance.sh` (runs `benches/convert.sh`, \
             `benches/onnxruntime_layers.py` when its venv exists, then `cargo bench \
             --profile profiling --bench layers -- --rounds {} --net-rounds {} --out \
             docs/performance.md`)",
            self.args.rounds, self.args.net_rounds
        );
        Ok(s)
    }
}

impl Report<'_> {
    /// The onnxruntime minimum of each layer, by key (empty when not run).
    fn ort(&self) -> Result<BTreeMap<String, f64>> {
        Ok(match &self.args.ort_json {
            Some(p) => serde_json::from_str(
                &std::fs::read_to_string(p)
                    .with_context(|| format!("--ort-json {}", p.display()))?,
            )?,
            None => BTreeMap::new(),
        })
    }

    /// Issue 7's anchor table, measured here, with our rows added: tract
    /// from this benchmark, onnxruntime from `--ort-json`.
    fn anchor_table(&self, s: &mut String) -> Result<()> {
        let ort = self.ort()?;
        let _ = writeln!(s, "## The anchor table, with our rows\n");
        let _ = writeln!(
            s,
            "Issue 7's table, measured in this run: one activation layer on \
             `X = [1, {C}, {HW}, {HW}]`, each runtime on one thread, the variants \
             interleaved, each figure the minimum of {} runs, with its ratio to (a) \
             in brackets. (c) and (d) are our rows; the Sigmoid layer is the one-pass \
             floor. tract is timed twice: with the input shared with the benchmark and \
             with a fresh input per run ([Shared or fresh input](#shared-or-fresh-input)).\n",
            self.args.rounds
        );
        let _ = writeln!(
            s,
            "| layer | tract, shared input | tract, fresh input | onnxruntime |\n|---|---|---|---|"
        );
        let a = min(&self.row("a").times);
        let a_fresh = min(&self.row("a").fresh);
        for r in &self.layers {
            let m = min(&r.times);
            let f = min(&r.fresh);
            let ort_cell = match (ort.get(r.key), ort.get("a")) {
                (Some(o), Some(oa)) => format!("{o:.2} ms ({:.2}×)", o / oa),
                _ if r.key == "d" => "— (custom op)".into(),
                _ => "not run".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {m:.2} ms ({:.2}×) | {f:.2} ms ({:.2}×) | {ort_cell} |",
                r.label,
                m / a,
                f / a_fresh
            );
        }
        let _ = writeln!(s);
        Ok(())
    }

    /// The layers timed with the input shared with the benchmark and with a
    /// fresh input per run, side by side.
    fn fresh_section(&self, s: &mut String) {
        let _ = writeln!(s, "## Shared or fresh input\n");
        let _ = writeln!(
            s,
            "The same six layers, interleaved again for {} rounds, each run handed its own \
             copy of X, made before the clock starts, which tract owns as it owns what a \
             deployment hands over (and which the allocator serves anew every run). The \
             Sigmoid and ReLU layers then work in place with no copy; every Meta-ACON \
             arrangement still copies X, which it reads again at the end. The plans are the \
             same in both columns; what differs is how the allocator and the caches meet \
             the input, and the ratio to (a) moves with it.\n",
            self.args.rounds
        );
        let _ = writeln!(
            s,
            "| layer | shared: min ms | × (a) | fresh: min ms | × (a) |\n|---|---|---|---|---|"
        );
        let a = self.row("a");
        for r in &self.layers {
            let _ = writeln!(
                s,
                "| {} | {:.3} | {:.2}× | {:.3} | {:.2}× |",
                r.label,
                min(&r.times),
                min(&r.times) / min(&a.times),
                min(&r.fresh),
                min(&r.fresh) / min(&a.fresh)
            );
        }
        let _ = writeln!(s);
    }

    /// How far each path stands from the Sigmoid layer, and what the plan
    /// profile says is in the way of a missed target. `t1` and `t2` are the
    /// worse of the two inputs' ratios.
    fn floor_section(&self, s: &mut String, floor: f64, t1: f64, t2: f64) {
        let _ = writeln!(s, "## Distance from the one-pass floor\n");
        let _ = writeln!(
            s,
            "The floor is one pass that reads X, writes Y and computes one exp per \
             element: the Sigmoid layer with a fresh input per run, which tract runs in \
             place, {floor:.3} ms. The times below are the fresh-input ones (see [Shared or \
             fresh input](#shared-or-fresh-input)); with the input shared, the Sigmoid \
             layer also copies X.\n"
        );
        let _ = writeln!(
            s,
            "| path | min ms | × floor | over the floor |\n|---|---|---|---|"
        );
        for r in &self.layers {
            if r.key == "sigmoid" {
                continue;
            }
            let m = min(&r.fresh);
            let _ = writeln!(
                s,
                "| {} | {:.3} | {:.2}× | {:+.3} ms |",
                r.label,
                m,
                m / floor,
                m - floor
            );
        }
        let full_size = |key: &str| -> String {
            let layer = min(&self.row(key).times);
            self.profiles
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, steps)| {
                    steps
                        .iter()
                        .filter(|(_, ms)| *ms >= 0.05 * layer)
                        .map(|(op, ms)| format!("`{op}` {ms:.3} ms"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        let _ = writeln!(
            s,
            "\nThe steps of (c) that touch the whole tensor (from the plan profile above): \
             {}. `Reduce<Sum>` reads X once for the mean; the Mul by `β·P` \
             (`OptMulByScalar`) is the only step that needs a new buffer, because X is \
             still read afterwards: tract's by-scalar Mul copies its first operand when \
             that is shared and then scales the copy in place, so this step costs a copy \
             and a pass; `Sigmoid` and the fused `Mul-Add-Mul` chain then work in place.\n",
            full_size("c")
        );
        let worst = block_ratios(&self.row("c").times, &self.row("a").times).1;
        let status = if t1 > TARGET_CONVERTED_VS_TORCH {
            Some(format!(
                "**Target 1 is missed by {:.0}%** ({t1:.2}× in the worse of the two ways of \
                 feeding the input).",
                (t1 / TARGET_CONVERTED_VS_TORCH - 1.0) * 100.0
            ))
        } else if worst > TARGET_CONVERTED_VS_TORCH {
            Some(format!(
                "**Target 1 is met narrowly**: {t1:.2}× over the whole run, but {worst:.2}× \
                 in its worst fifth."
            ))
        } else {
            None
        };
        if let Some(status) = status {
            let _ = writeln!(
                s,
                "{status} Every arrangement of standard ops pays the mean's read and a copy \
                 of X into the first full-size result (X is read again at the end in all of \
                 them); (c) has no other pass left to remove: one Sigmoid, one Mul, one \
                 fused chain. The copy inside `OptMulByScalar` (in a `perf record` of this \
                 benchmark it shows as `memmove`) is what stands between (c) and the target; \
                 an out-of-place by-scalar Mul in tract, writing `X·β·P` straight into a new \
                 buffer, would remove one pass. The two ways of feeding the input differ in \
                 (a), not in (c): (a) ends with `X·p2`, which works in place on X when \
                 nothing else holds X, so with a fresh input (a) pays one copy of X fewer \
                 than with a shared one, while (c) reads X at the end as the second operand \
                 of its chain, which costs no copy either way.\n"
            );
        }
        if t2 > TARGET_NATIVE_VS_CONVERTED {
            let _ = writeln!(
                s,
                "**Target 2 is missed: the native kernel takes {t2:.2}× the converted \
                 layer** ({}). It is one step: a read of X for the mean, then per \
                 `(n, c)` slice `a·x`, tract's vectorised sigmoid in place and \
                 `x·(P·y + p2)`, three sweeps over a slice that stays in cache. What is \
                 left above the floor is the mean's read and those two scalar-compiled \
                 sweeps (`perf record` of this benchmark shows where).\n",
                full_size("d")
            );
        }
    }
}

// ---- the machine -------------------------------------------------------------

fn now_utc() -> String {
    command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("({cmd} unavailable)"))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "?".into())
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// tract's versions, from Cargo.lock.
fn versions() -> String {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"))
        .unwrap_or_default();
    let mut found = vec![];
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take())
            && ["tract-onnx", "tract-core", "tract-linalg"].contains(&n.as_str())
        {
            found.push(format!("{n} {}", v.trim_matches('"')));
        }
    }
    found.join(", ")
}

fn git_revision() -> String {
    let rev = command_line(
        "git",
        &[
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let dirty = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if dirty {
        format!("{rev} (with uncommitted changes)")
    } else {
        rev
    }
}
