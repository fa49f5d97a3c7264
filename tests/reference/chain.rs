//! The chains the tests convert: ACON nodes built in Rust, their seeded
//! parameters, and the expected result computed in f64 from the spec.

use acon_onnx::model::tensor::{Array, FloatType, float_tensor};
use acon_onnx::proto::{AttributeProto, AttributeType, NodeProto, TensorProto};

use super::formulas::{EPSILON, acon_c, meta_beta, one, zero};
use crate::common::acon_node;

/// One ACON node of a chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stage {
    /// `AconA(X)`, beta omitted.
    Swish,
    A,
    B,
    C,
    /// `MetaAconC` without the BatchNorm groups.
    Meta,
    /// `MetaAconC` with both BatchNorm groups and `epsilon`.
    MetaBn,
}

pub const EVERY_STAGE: [Stage; 6] = [
    Stage::Swish,
    Stage::A,
    Stage::B,
    Stage::C,
    Stage::Meta,
    Stage::MetaBn,
];

/// Deterministic pseudo-random parameters: the crate's one generator
/// (`acon_onnx::rng`), drawn as arrays.
pub struct Rng(acon_onnx::rng::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(acon_onnx::rng::Rng::new(seed))
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0.uniform(lo, hi)
    }

    /// An array of `dims` in `[lo, hi)`, rounded to `ty` as the model stores it.
    pub fn array(&mut self, dims: &[usize], lo: f64, hi: f64, ty: FloatType) -> Array {
        let count = dims.iter().product();
        Array {
            dims: dims.to_vec(),
            data: (0..count).map(|_| ty.round(self.uniform(lo, hi))).collect(),
        }
    }
}

/// `x → stage 1 → … → y` on `[N, C, …]` tensors, with its parameters.
pub struct Chain {
    pub ty: FloatType,
    /// Per stage, its parameters in the spec's input order (`None` = omitted).
    pub stages: Vec<(Stage, Vec<Option<Array>>)>,
}

/// The nodes and initializers of a chain, and the names of its values.
pub struct Built {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    /// The values between stages, in order.
    pub intermediates: Vec<String>,
}

impl Chain {
    /// Random parameters for `stages` on `channels` channels and `spatial`
    /// spatial axes (R = 3 for Meta-ACON).
    pub fn new(
        stages: &[Stage],
        channels: usize,
        spatial: usize,
        ty: FloatType,
        seed: u64,
    ) -> Chain {
        let mut rng = Rng::new(seed);
        let per_channel: Vec<usize> = [1, channels]
            .into_iter()
            .chain(std::iter::repeat_n(1, spatial))
            .collect();
        let conv = |out: usize, inp: usize| -> Vec<usize> {
            [out, inp]
                .into_iter()
                .chain(std::iter::repeat_n(1, spatial))
                .collect()
        };
        let r = 3;
        let stages = stages
            .iter()
            .map(|&stage| {
                let mut p = |dims: &[usize], lo, hi| Some(rng.array(dims, lo, hi, ty));
                // p1 > 1 > p2 > 0 (a leaky, ReLU-like stage whatever β is)
                // keeps a long chain from vanishing or exploding.
                let params = match stage {
                    Stage::Swish => vec![],
                    Stage::A => vec![p(&per_channel, 0.5, 2.0)],
                    Stage::B => vec![p(&per_channel, 0.1, 0.5), p(&per_channel, 0.5, 2.0)],
                    Stage::C => vec![
                        p(&per_channel, 1.0, 1.8),
                        p(&per_channel, 0.1, 0.5),
                        p(&per_channel, 0.5, 2.0),
                    ],
                    Stage::Meta | Stage::MetaBn => {
                        let mut v = vec![
                            p(&per_channel, 1.0, 1.8),
                            p(&per_channel, 0.1, 0.5),
                            p(&conv(r, channels), -0.8, 0.8),
                            p(&[r], -0.5, 0.5),
                            p(&conv(channels, r), -0.8, 0.8),
                            p(&[channels], -0.5, 0.5),
                        ];
                        if stage == Stage::MetaBn {
                            for len in [r, channels] {
                                v.push(p(&[len], 0.5, 1.5));
                                v.push(p(&[len], -0.5, 0.5));
                                v.push(p(&[len], -0.5, 0.5));
                                v.push(p(&[len], 0.2, 1.2));
                            }
                        }
                        v
                    }
                };
                (stage, params)
            })
            .collect();
        Chain { ty, stages }
    }

    /// A random input of `dims`, rounded to the chain's type.
    pub fn input(&self, dims: &[usize], seed: u64) -> Array {
        Rng::new(seed).array(dims, -2.0, 2.0, self.ty)
    }

    /// Nodes from `input` to `output`; every name starts with `prefix`.
    pub fn build(&self, prefix: &str, input: &str, output: &str) -> Built {
        let mut built = Built {
            nodes: vec![],
            initializers: vec![],
            intermediates: vec![],
        };
        let mut x = input.to_owned();
        for (i, (stage, params)) in self.stages.iter().enumerate() {
            let y = if i + 1 == self.stages.len() {
                output.to_owned()
            } else {
                format!("{prefix}v{i}")
            };
            let mut inputs = vec![x.clone()];
            for (k, p) in params.iter().enumerate() {
                inputs.push(match p {
                    Some(array) => {
                        let name = format!("{prefix}act{i}.p{}", k + 1);
                        built.initializers.push(float_tensor(&name, array, self.ty));
                        name
                    }
                    None => String::new(),
                });
            }
            let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            let op = match stage {
                Stage::Swish | Stage::A => "AconA",
                Stage::B => "AconB",
                Stage::C => "AconC",
                Stage::Meta | Stage::MetaBn => "MetaAconC",
            };
            let mut node = acon_node(&format!("{prefix}act{i}"), op, &refs, &[&y]);
            if *stage == Stage::MetaBn {
                node.attribute.push(AttributeProto {
                    name: Some("epsilon".into()),
                    r#type: Some(AttributeType::Float as i32),
                    f: Some(EPSILON),
                    ..Default::default()
                });
            }
            built.nodes.push(node);
            if y != output {
                built.intermediates.push(y.clone());
            }
            x = y;
        }
        built
    }

    /// The chain applied to `x`, in f64.
    pub fn reference(&self, x: &Array) -> Array {
        let mut y = x.clone();
        for (stage, params) in &self.stages {
            let p = |k: usize| params[k].clone().expect("parameter");
            y = match stage {
                Stage::Swish => acon_c(&y, &one(), &zero(), &one()),
                Stage::A => acon_c(&y, &one(), &zero(), &p(0)),
                // AconB is AconC with p1 = 1, p2 = p.
                Stage::B => acon_c(&y, &one(), &p(0), &p(1)),
                Stage::C => acon_c(&y, &p(0), &p(1), &p(2)),
                Stage::Meta | Stage::MetaBn => {
                    let bn = |first: usize| {
                        (*stage == Stage::MetaBn)
                            .then(|| [p(first), p(first + 1), p(first + 2), p(first + 3)])
                    };
                    let beta = meta_beta(&y, &p(2), &p(3), &p(4), &p(5), bn(6), bn(10));
                    acon_c(&y, &p(0), &p(1), &beta)
                }
            };
        }
        y
    }
}
