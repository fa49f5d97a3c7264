//! The model zoo: the ten ImageNet networks of the ACON paper's comparison
//! table (Ma et al., CVPR 2021, Table 5), built in Rust as ONNX models with
//! seeded random weights. One file per family (`resnet`, `mobilenet`,
//! `shufflenet`); this file holds what they share: the options, the
//! activation slots and a small graph [`Builder`].
//!
//! In run order, [`build`] checks the options, lets the family emit its
//! nodes through the builder (weights from one seeded stream, activation
//! parameters from a second, see [`init`]), wraps the graph in a model of
//! default opset 17, and with `standard` decomposes the ACON ops with
//! [`crate::convert`].
//!
//! ## Where the activation goes
//!
//! Every family marks some of its activations as *ACON slots*. With
//! `--act relu` a slot is the family's usual ReLU (ReLU6 in MobileNetV2);
//! otherwise the slot becomes `acon::AconA` (Swish, β = 1), `acon::AconC`
//! (per-channel p1, p2, β) or `acon::MetaAconC` (with both BatchNorm
//! groups, as the paper's code has them) and the other activations stay
//! ReLU. Swish and ACON-C use the same slots as Meta-ACON, so the three
//! differ only in the activation itself.
//!
//! - **ResNet-50/101/152**: the ReLU after each bottleneck's 3×3 conv, as
//!   in the authors' `resnet_metaacon.py`, which also puts the stride on
//!   the first 1×1 conv (ResNet v1, not torchvision's v1.5).
//! - **ResNet-18**: the authors publish no code. Both ReLUs of each basic
//!   block (after the first 3×3 conv and after the residual add) are slots:
//!   both convs of a basic block are 3×3, and this reproduces the paper's
//!   11.9M parameters (one slot per block would give 11.8M).
//! - **ShuffleNetV2**: every activation, as in the authors' `network.py`
//!   (first conv, both pointwise convs of each main branch, the projection
//!   branch, the last conv); r = 8 at 0.5x, 16 otherwise.
//! - **MobileNetV1**: no official code; every activation (after the stem,
//!   each depthwise and each pointwise conv), which reproduces the paper's
//!   parameter counts at 0.25 and 0.75.
//! - **MobileNetV2**: no official code; the stem's and the 1280-channel
//!   head's activations. The paper adds only +0.4M parameters at width 1.0;
//!   Meta-ACON on every activation would add 1.4M, on every depthwise
//!   output 0.6M, so the inverted residual blocks keep ReLU6.
//!
//! The reduction `R = max(r, C/r)` uses r = 8 for the networks of width
//! ≤ 0.5 (the ShuffleNetV2 0.5x choice of the authors' code, extended to
//! the MobileNets of the same size) and r = 16 otherwise.
//!
//! `docs/seed-table.md` (printed by the hidden `zoo-table` subcommand,
//! [`table`]) sets the resulting FLOPs and parameters beside the paper's and
//! explains the rows that differ.

mod init;
mod mobilenet;
mod resnet;
mod shufflenet;
pub mod table;

use std::fmt;

use crate::error::Error;
use crate::model::build::{attr_float, attr_int, attr_ints, tensor_value_info};
use crate::model::facts::Dim;
use crate::model::tensor::{Array, FloatType, float_tensor, int64_tensor};
use crate::passes::ConvertOptions;
use crate::proto::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, ValueInfoProto,
};

pub use init::Rng;

/// The default-domain opset of zoo models.
pub const OPSET: i64 = 17;
/// ImageNet's classes.
pub const CLASSES: usize = 1000;
/// The stream the activations' parameters are drawn from.
const ACTIVATION_STREAM: u64 = 1;

/// The networks of the paper's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    MobileNetV1,
    MobileNetV2,
    ShuffleNetV2,
    Resnet18,
    Resnet50,
    Resnet101,
    Resnet152,
}

impl Arch {
    pub const ALL: [Arch; 7] = [
        Arch::MobileNetV1,
        Arch::MobileNetV2,
        Arch::ShuffleNetV2,
        Arch::Resnet18,
        Arch::Resnet50,
        Arch::Resnet101,
        Arch::Resnet152,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Arch::MobileNetV1 => "mobilenet_v1",
            Arch::MobileNetV2 => "mobilenet_v2",
            Arch::ShuffleNetV2 => "shufflenet_v2",
            Arch::Resnet18 => "resnet18",
            Arch::Resnet50 => "resnet50",
            Arch::Resnet101 => "resnet101",
            Arch::Resnet152 => "resnet152",
        }
    }

    pub fn default_width(self) -> f64 {
        1.0
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The activation put in the ACON slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    Relu,
    Swish,
    AconC,
    MetaAcon,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Swish => "swish",
            Activation::AconC => "acon-c",
            Activation::MetaAcon => "meta-acon",
        }
    }
}

/// What `acon-onnx zoo` was asked for.
#[derive(Debug, Clone)]
pub struct ZooOptions {
    pub arch: Arch,
    pub activation: Activation,
    /// Width multiplier; `None` is the architecture's default (1.0).
    pub width: Option<f64>,
    pub resolution: usize,
    pub seed: u64,
    /// The batch dim: a number, or a symbol such as `batch`.
    pub batch: BatchDim,
    /// Decompose the ACON ops into standard ONNX ops.
    pub standard: bool,
}

impl ZooOptions {
    pub fn new(arch: Arch, activation: Activation) -> ZooOptions {
        ZooOptions {
            arch,
            activation,
            width: None,
            resolution: 224,
            seed: 0,
            batch: BatchDim::Fixed(1),
            standard: false,
        }
    }

    pub fn width(&self) -> f64 {
        self.width.unwrap_or(self.arch.default_width())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchDim {
    Fixed(i64),
    Symbol(String),
}

/// Builds the network `options` describe.
// `Error` is large crate-wide (its `Node` variant); boxing it is the error
// module's call, not this one's.
pub fn build(options: &ZooOptions) -> Result<ModelProto, Error> {
    let width = options.width();
    let invalid = |reason: String| Error::Unsupported(format!("zoo {}: {reason}", options.arch));
    if !(width.is_finite() && width > 0.0) {
        return Err(invalid(format!("width {width} must be positive")));
    }
    if options.resolution < 32 || !options.resolution.is_multiple_of(32) {
        return Err(invalid(format!(
            "resolution {} must be a positive multiple of 32 (the networks downsample by 32)",
            options.resolution
        )));
    }
    let mut b = Builder::new(options);
    let head = match options.arch {
        Arch::MobileNetV1 => mobilenet::v1(&mut b, width),
        Arch::MobileNetV2 => mobilenet::v2(&mut b, width),
        Arch::ShuffleNetV2 => shufflenet::v2(&mut b, width).map_err(invalid)?,
        Arch::Resnet18 | Arch::Resnet50 | Arch::Resnet101 | Arch::Resnet152 => {
            if width != 1.0 {
                return Err(invalid("ResNets are built at width 1.0 only".into()));
            }
            resnet::resnet(&mut b, options.arch)
        }
    };
    let mut model = b.finish(head, options);
    if options.standard {
        crate::convert(&mut model, &ConvertOptions::default())?;
    }
    Ok(model)
}

/// The reduction `r` of Meta-ACON's `R = max(r, C/r)`: 8 for the networks of
/// width ≤ 0.5 (ShuffleNetV2 0.5x in the authors' code), 16 otherwise.
pub fn reduction(width: f64) -> usize {
    if width <= 0.5 { 8 } else { 16 }
}

/// `_make_divisible` of the TensorFlow and torchvision MobileNets: the
/// nearest multiple of `divisor`, at least `divisor`, and never more than
/// 10% below `v`.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut n = (((v + d / 2.0) / d).floor() * d).max(d);
    if n < 0.9 * v {
        n += d;
    }
    n as usize
}

/// The graph being built: nodes, initializers and the two random streams.
pub struct Builder {
    activation: Activation,
    /// MobileNetV2 uses ReLU6 for its plain activations.
    pub relu6: bool,
    /// Meta-ACON's reduction.
    pub r: usize,
    weights: Rng,
    act_params: Rng,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    relu6_bounds: bool,
    /// ACON inputs to declare in `value_info` (name, channels, size): the
    /// converter needs their element type, which nothing else gives.
    value_info: Vec<(String, usize, usize)>,
    /// The spatial size of the current feature map (square).
    pub size: usize,
}

use crate::proto::TensorProto;

/// A value in the graph, its channel count and an estimate of its second
/// moment `E[x²]`, from which BatchNorm gets running statistics that
/// roughly normalise what it sees. Without them the signal of a deep random
/// network fades or explodes layer by layer, and rounding differences grow
/// into visible ones. The estimate does not depend on the activation, so
/// that ReLU and ACON models keep the same weights.
#[derive(Debug, Clone)]
pub struct Value {
    pub name: String,
    pub channels: usize,
    pub m2: f64,
    /// The part of `m2` carried by terms that are never negative (a ReLU
    /// output on a residual path): a ReLU keeps it, and halves the rest.
    pub pos: f64,
}

impl Value {
    /// The graph input `input` (3 channels, unit second moment).
    pub fn input() -> Value {
        Value {
            name: "input".into(),
            channels: 3,
            m2: 1.0,
            pos: 0.0,
        }
    }

    fn like(x: &Value, name: String, m2: f64, pos: f64) -> Value {
        Value {
            name,
            channels: x.channels,
            m2,
            pos,
        }
    }

    /// `E[y²]` of `y = max(x, 0)`.
    fn rectified_m2(&self) -> f64 {
        self.pos + (self.m2 - self.pos) / 2.0
    }
}

impl Builder {
    fn new(options: &ZooOptions) -> Builder {
        Builder {
            activation: options.activation,
            relu6: false,
            r: reduction(options.width()),
            weights: Rng::new(options.seed),
            act_params: Rng::stream(options.seed, ACTIVATION_STREAM),
            nodes: vec![],
            initializers: vec![],
            relu6_bounds: false,
            value_info: vec![],
            size: options.resolution,
        }
    }

    fn init(&mut self, name: &str, dims: &[usize], data: Vec<f64>) -> String {
        let array = Array {
            dims: dims.to_vec(),
            data,
        };
        self.initializers
            .push(float_tensor(name, &array, FloatType::F32));
        name.to_owned()
    }

    fn node(
        &mut self,
        name: &str,
        op_type: &str,
        inputs: Vec<String>,
        attributes: Vec<AttributeProto>,
    ) -> String {
        self.node_outputs(name, op_type, inputs, attributes, 1)
            .remove(0)
    }

    fn node_outputs(
        &mut self,
        name: &str,
        op_type: &str,
        inputs: Vec<String>,
        attribute: Vec<AttributeProto>,
        outputs: usize,
    ) -> Vec<String> {
        let output: Vec<String> = if outputs == 1 {
            vec![name.to_owned()]
        } else {
            (0..outputs).map(|i| format!("{name}:{i}")).collect()
        };
        self.nodes.push(NodeProto {
            name: Some(name.to_owned()),
            op_type: Some(op_type.to_owned()),
            input: inputs,
            output: output.clone(),
            attribute,
            ..Default::default()
        });
        output
    }

    /// A bias-free convolution with `k/2` padding (every conv of the zoo is
    /// followed by BatchNorm, which makes a bias redundant).
    pub fn conv(
        &mut self,
        name: &str,
        x: &Value,
        cout: usize,
        k: usize,
        stride: usize,
        groups: usize,
    ) -> Value {
        let cin = x.channels;
        let fan_in = cin / groups * k * k;
        let data = init::kaiming_uniform(&mut self.weights, cout * fan_in, fan_in);
        let w = self.init(&format!("{name}.weight"), &[cout, cin / groups, k, k], data);
        let p = (k / 2) as i64;
        let out = self.node(
            name,
            "Conv",
            vec![x.name.clone(), w],
            vec![
                attr_ints("kernel_shape", &[k as i64, k as i64]),
                attr_ints("strides", &[stride as i64, stride as i64]),
                attr_ints("pads", &[p, p, p, p]),
                attr_int("group", groups as i64),
            ],
        );
        self.size = self.size.div_ceil(stride);
        // Var(Σ w·x) = fan_in · Var(w) · E[x²], Var(w) = 1/(3·fan_in).
        Value {
            name: out,
            channels: cout,
            m2: x.m2 / 3.0,
            pos: 0.0,
        }
    }

    /// BatchNormalization in inference form, with non-trivial statistics.
    pub fn bn(&mut self, name: &str, x: &Value) -> Value {
        let c = x.channels;
        let [scale, bias, mean, var] = init::batch_norm(&mut self.weights, c, x.m2);
        let inputs = vec![
            x.name.clone(),
            self.init(&format!("{name}.weight"), &[c], scale),
            self.init(&format!("{name}.bias"), &[c], bias),
            self.init(&format!("{name}.running_mean"), &[c], mean),
            self.init(&format!("{name}.running_var"), &[c], var),
        ];
        let out = self.node(
            name,
            "BatchNormalization",
            inputs,
            vec![attr_float("epsilon", 1e-5)],
        );
        // scale ~ U(0.5, 1.5), bias small: E[y²] ≈ E[scale²] ≈ 1.
        Value::like(x, out, 1.0, 0.0)
    }

    /// Conv then BatchNorm, named `conv` and `bn`.
    pub fn conv_bn(
        &mut self,
        [conv, bn]: [&str; 2],
        x: &Value,
        cout: usize,
        k: usize,
        stride: usize,
        groups: usize,
    ) -> Value {
        let y = self.conv(conv, x, cout, k, stride, groups);
        self.bn(bn, &y)
    }

    /// The family's plain activation: ReLU, or ReLU6 as `Clip(0, 6)`.
    pub fn relu(&mut self, name: &str, x: &Value) -> Value {
        let out = if self.relu6 {
            if !self.relu6_bounds {
                self.relu6_bounds = true;
                self.init("relu6.min", &[], vec![0.0]);
                self.init("relu6.max", &[], vec![6.0]);
            }
            self.node(
                name,
                "Clip",
                vec![x.name.clone(), "relu6.min".into(), "relu6.max".into()],
                vec![],
            )
        } else {
            self.node(name, "Relu", vec![x.name.clone()], vec![])
        };
        let m2 = x.rectified_m2();
        Value::like(x, out, m2, m2)
    }

    /// An ACON slot: the chosen activation, or the plain one for `relu`.
    pub fn slot(&mut self, name: &str, x: &Value) -> Value {
        let c = x.channels;
        let m2 = x.m2;
        let out_m2 = x.rectified_m2();
        let per_channel = [1, c, 1, 1];
        let out = match self.activation {
            Activation::Relu => return self.relu(name, x),
            Activation::Swish => self.acon_node(name, "AconA", vec![x.name.clone()], vec![]),
            Activation::AconC => {
                // β starts at 1 in the official code; spread around 1 here
                // so that it is not trivial. For p1, p2 see `acon_p`.
                let [p1, p2] = acon_p(&mut self.act_params, c);
                let beta = self.act_params.uniform_vec(c, 0.75, 1.25);
                let inputs = vec![
                    x.name.clone(),
                    self.init(&format!("{name}.p1"), &per_channel, p1),
                    self.init(&format!("{name}.p2"), &per_channel, p2),
                    self.init(&format!("{name}.beta"), &per_channel, beta),
                ];
                self.acon_node(name, "AconC", inputs, vec![])
            }
            Activation::MetaAcon => {
                let r = self.r.max(c / self.r);
                let rng = &mut self.act_params;
                let [p1, p2] = acon_p(rng, c);
                let w1 = init::kaiming_uniform(rng, r * c, c);
                let b1 = init::kaiming_uniform(rng, r, c);
                let w2 = init::kaiming_uniform(rng, c * r, r);
                let b2 = init::kaiming_uniform(rng, c, r);
                // fc1 sees the spatial mean of x: per-channel means, about
                // a tenth of E[x²] after BatchNorm; fc2 the normalised
                // output of bn1.
                let bn1 = init::batch_norm(rng, r, m2 / 10.0 / 3.0);
                let bn2 = init::batch_norm(rng, c, 1.0 / 3.0);
                let mut inputs = vec![
                    x.name.clone(),
                    self.init(&format!("{name}.p1"), &per_channel, p1),
                    self.init(&format!("{name}.p2"), &per_channel, p2),
                    self.init(&format!("{name}.fc1.weight"), &[r, c, 1, 1], w1),
                    self.init(&format!("{name}.fc1.bias"), &[r], b1),
                    self.init(&format!("{name}.fc2.weight"), &[c, r, 1, 1], w2),
                    self.init(&format!("{name}.fc2.bias"), &[c], b2),
                ];
                let fields = ["weight", "bias", "running_mean", "running_var"];
                for (bn, dim, values) in [("bn1", r, bn1), ("bn2", c, bn2)] {
                    for (field, v) in fields.iter().zip(values) {
                        inputs.push(self.init(&format!("{name}.{bn}.{field}"), &[dim], v));
                    }
                }
                self.acon_node(name, "MetaAconC", inputs, vec![attr_float("epsilon", 1e-5)])
            }
        };
        self.value_info.push((x.name.clone(), c, self.size));
        // As for ReLU, whatever the activation (see `Value`).
        Value::like(x, out, out_m2, out_m2)
    }

    fn acon_node(
        &mut self,
        name: &str,
        op_type: &str,
        inputs: Vec<String>,
        attributes: Vec<AttributeProto>,
    ) -> String {
        let out = self.node(name, op_type, inputs, attributes);
        if let Some(n) = self.nodes.last_mut() {
            n.domain = Some(crate::ops::DEFAULT_ACON_DOMAIN.to_owned());
        }
        out
    }

    /// The ACON slot when `acon` holds, else the plain activation.
    pub fn act(&mut self, name: &str, x: &Value, acon: bool) -> Value {
        if acon {
            self.slot(name, x)
        } else {
            self.relu(name, x)
        }
    }

    pub fn add(&mut self, name: &str, a: &Value, b: &Value) -> Value {
        let out = self.node(name, "Add", vec![a.name.clone(), b.name.clone()], vec![]);
        Value::like(a, out, a.m2 + b.m2, a.pos + b.pos)
    }

    pub fn max_pool(&mut self, name: &str, x: &Value, k: usize, stride: usize) -> Value {
        let p = (k / 2) as i64;
        let out = self.node(
            name,
            "MaxPool",
            vec![x.name.clone()],
            vec![
                attr_ints("kernel_shape", &[k as i64, k as i64]),
                attr_ints("strides", &[stride as i64, stride as i64]),
                attr_ints("pads", &[p, p, p, p]),
            ],
        );
        self.size = self.size.div_ceil(stride);
        Value::like(x, out, x.m2, x.pos)
    }

    /// Splits the channels into two equal halves.
    pub fn split_halves(&mut self, name: &str, x: &Value) -> (Value, Value) {
        let out = self.node_outputs(
            name,
            "Split",
            vec![x.name.clone()],
            vec![attr_int("axis", 1)],
            2,
        );
        let half = |name: &String| Value {
            name: name.clone(),
            channels: x.channels / 2,
            m2: x.m2,
            pos: x.pos,
        };
        (half(&out[0]), half(&out[1]))
    }

    pub fn concat(&mut self, name: &str, parts: &[&Value]) -> Value {
        let out = self.node(
            name,
            "Concat",
            parts.iter().map(|v| v.name.clone()).collect(),
            vec![attr_int("axis", 1)],
        );
        let channels: usize = parts.iter().map(|v| v.channels).sum();
        let mean = |f: fn(&Value) -> f64| {
            parts.iter().map(|v| f(v) * v.channels as f64).sum::<f64>() / channels as f64
        };
        let (m2, pos) = (mean(|v| v.m2), mean(|v| v.pos));
        Value {
            name: out,
            channels,
            m2,
            pos,
        }
    }

    /// ShuffleNet's channel shuffle for two groups, as PyTorch exports it:
    /// Reshape to `[N, 2, C/2, H, W]`, swap axes 1 and 2, Reshape back. The
    /// shapes use `0` (copy the batch dim), so they do not need `Shape`.
    pub fn channel_shuffle(&mut self, name: &str, x: &Value) -> Value {
        let c = x.channels as i64;
        let s = self.size as i64;
        let split = format!("{name}.split_shape");
        let merged = format!("{name}.merged_shape");
        self.initializers
            .push(int64_tensor(&split, &[0, 2, c / 2, s, s]));
        self.initializers.push(int64_tensor(&merged, &[0, c, s, s]));
        let a = self.node(
            &format!("{name}.reshape"),
            "Reshape",
            vec![x.name.clone(), split],
            vec![],
        );
        let t = self.node(
            &format!("{name}.transpose"),
            "Transpose",
            vec![a],
            vec![attr_ints("perm", &[0, 2, 1, 3, 4])],
        );
        let out = self.node(name, "Reshape", vec![t, merged], vec![]);
        Value::like(x, out, x.m2, x.pos)
    }

    /// Global average pooling, Flatten and the classifier (`Gemm`, weights
    /// `[classes, C]` as `nn.Linear` stores them).
    fn classifier(&mut self, x: &Value) -> String {
        let pooled = self.node("avgpool", "GlobalAveragePool", vec![x.name.clone()], vec![]);
        let flat = self.node(
            "flatten",
            "Flatten",
            vec![pooled],
            vec![attr_int("axis", 1)],
        );
        let c = x.channels;
        let w = init::kaiming_uniform(&mut self.weights, CLASSES * c, c);
        let bias = init::kaiming_uniform(&mut self.weights, CLASSES, c);
        let w = self.init("fc.weight", &[CLASSES, c], w);
        let bias = self.init("fc.bias", &[CLASSES], bias);
        self.nodes.push(NodeProto {
            name: Some("fc".into()),
            op_type: Some("Gemm".into()),
            input: vec![flat, w, bias],
            output: vec!["output".into()],
            attribute: vec![attr_int("transB", 1)],
            ..Default::default()
        });
        "output".into()
    }

    fn finish(mut self, features: Value, options: &ZooOptions) -> ModelProto {
        let output = self.classifier(&features);
        let batch = match &options.batch {
            BatchDim::Fixed(n) => Dim::Known(*n),
            BatchDim::Symbol(s) => Dim::Symbol(s.clone()),
        };
        let r = options.resolution as i64;
        let uses_acon = self.nodes.iter().any(|n| n.domain.is_some());
        let mut opset_import = vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }];
        if uses_acon {
            opset_import.push(OperatorSetIdProto {
                domain: Some(crate::ops::DEFAULT_ACON_DOMAIN.into()),
                version: Some(1),
            });
        }
        let graph = GraphProto {
            name: Some(format!("{}_{}", options.arch, options.activation.name())),
            node: self.nodes,
            initializer: self.initializers,
            input: vec![float_value_info(
                "input",
                &[batch.clone(), Dim::Known(3), Dim::Known(r), Dim::Known(r)],
            )],
            output: vec![float_value_info(
                &output,
                &[batch.clone(), Dim::Known(CLASSES as i64)],
            )],
            value_info: self
                .value_info
                .iter()
                .map(|(name, c, size)| {
                    let s = Dim::Known(*size as i64);
                    float_value_info(name, &[batch.clone(), Dim::Known(*c as i64), s.clone(), s])
                })
                .collect(),
            ..Default::default()
        };
        ModelProto {
            ir_version: Some(8),
            producer_name: Some("acon-onnx zoo".into()),
            producer_version: Some(env!("CARGO_PKG_VERSION").into()),
            doc_string: Some(format!(
                "{} width {} with {} activations at {}x{}, seed {}, random weights",
                options.arch,
                options.width(),
                options.activation.name(),
                options.resolution,
                options.resolution,
                options.seed
            )),
            opset_import,
            graph: Some(graph),
            ..Default::default()
        }
    }
}

/// ACON-C's p1 and p2, near the ReLU-like point (p1 = 1, p2 = 0). The
/// official code draws both from N(0, 1), a starting point for training;
/// in a random network that gives every activation a gain of up to 3 or 4
/// and the signal explodes with depth (logits in the hundreds), where a
/// trained network keeps its scale.
fn acon_p(rng: &mut Rng, c: usize) -> [Vec<f64>; 2] {
    [rng.normal_vec(c, 1.0, 0.25), rng.normal_vec(c, 0.0, 0.25)]
}

/// A float tensor value info.
fn float_value_info(name: &str, dims: &[Dim]) -> ValueInfoProto {
    tensor_value_info(name, DataType::Float as i32, dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every network builds at a resolution other than 224 (the shuffle's
    /// reshape targets and the pooling follow it) and counts end to end.
    #[test]
    fn every_arch_builds_at_another_resolution() {
        for arch in Arch::ALL {
            let mut options = ZooOptions::new(arch, Activation::MetaAcon);
            options.resolution = 64;
            let model = build(&options).unwrap();
            crate::model::check::check_model(&model).unwrap();
            let r =
                crate::inspect::flops::count(&model, &BTreeMap::new(), &ConvertOptions::default());
            assert!(r.not_counted.is_empty(), "{arch}: {:?}", r.not_counted);
            assert_eq!(r.outputs[0].shape, Some(vec![1, CLASSES]), "{arch}");
        }
    }

    #[test]
    fn make_divisible_matches_torchvision() {
        assert_eq!(make_divisible(32.0 * 0.17, 8), 8);
        assert_eq!(make_divisible(64.0 * 0.17, 8), 16); // 8 would lose > 10%
        assert_eq!(make_divisible(320.0 * 0.17, 8), 56);
        assert_eq!(make_divisible(1280.0, 8), 1280);
    }
}
