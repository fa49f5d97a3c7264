//! Finding ACON blocks among standard ops: pattern, then the checks that
//! prove the block computes the op.
//!
//! The patterns, with `·` a `Mul` and `+` an `Add` matched in either
//! operand order:
//!
//! ```text
//! ACON-B/C, Meta-ACON:  y = D·σ(Z) + p2·x
//!                       D = P·x  |  p1·x − q·x          (P = p1 − q, folded)
//!                       Z = D′  |  β·D′                 (D′ is D, or computes what D does)
//! ACON-A:               y = x·σ(β·x)
//! Meta-ACON's β:        β = σ(BN?(Conv(BN?(Conv(m)))))
//!                       m = ReduceMean over the spatial axes, in one node or
//!                           one per axis, keepdims; or GlobalAveragePool
//! ```
//!
//! The checks, every one of which a near miss fails:
//!
//! - every `x` the block reads is one value, and every parameter (`P`,
//!   `p1`, `q`, `p2`, a constant `β`) is a float constant that is a scalar or
//!   per-channel for `x`'s rank, of `x`'s channel count where that is known;
//! - the mean covers exactly the spatial axes `2..rank` of that same `x`,
//!   keeping them; each conv is 1×1, ungrouped, unpadded (any stride or
//!   dilation: on a 1×1 input they change nothing), with constant weights
//!   `[R, C, 1…]` then `[C, R, 1…]`; each BatchNorm is in inference mode with
//!   constant statistics;
//! - every value the block computes, but its output, is read only inside the
//!   block (subgraphs included) and is not a graph output;
//! - all of it is in one float type.
//!
//! Names and `metadata_props` never decide a match.

use crate::model::hash::{Map, Set};
use std::collections::BTreeSet;

use crate::graph::GraphIndex;
use crate::graph::pattern::{binary_inputs, either, known_dim, per_channel, producer_op};
use crate::graph::rank::Ranks;
use crate::model::facts::{Dim, tensor_type, value_info_shape};
use crate::model::tensor::{Array, FloatType};
use crate::passes::arrange::{BnConstants, fold_bn};
use crate::passes::recognise::block::{Beta, Block, Conv, MetaConvs, Param};
use crate::proto::{AttributeType, GraphProto, NodeProto};

/// The default epsilon of ONNX BatchNormalization.
const BN_DEFAULT_EPSILON: f64 = 1e-5;

/// Finds the blocks of one graph, none sharing a node.
pub fn find_blocks(ix: &GraphIndex) -> Vec<Block> {
    let types = ValueTypes::of(ix.graph());
    let recorded = |name: &str| types.shape(name).map(<[Dim]>::len);
    let ranks = Ranks::new(ix, &recorded);
    let m = Matcher {
        ix,
        types: &types,
        ranks: &ranks,
    };
    let mut claimed: Set<usize> = Set::default();
    let mut blocks = vec![];
    // ACON-B/C and Meta-ACON first: their gated product D·σ(β·D) would
    // otherwise be taken for an ACON-A of D.
    for op in ["Add", "Mul"] {
        for (i, node) in ix.graph().node.iter().enumerate() {
            if node.op_type() != op || claimed.contains(&i) {
                continue;
            }
            let found = if op == "Add" { m.switch(i) } else { m.swish(i) };
            if let Some(block) = found
                && block.nodes.iter().all(|n| !claimed.contains(n))
            {
                claimed.extend(block.nodes.iter().copied());
                blocks.push(block);
            }
        }
    }
    blocks.sort_by_key(|b| b.nodes.last().copied());
    blocks
}

/// Element types and shapes the graph records (inputs, value_info, outputs).
struct ValueTypes<'g> {
    values: Map<&'g str, (Option<i32>, Option<Vec<Dim>>)>,
}

impl<'g> ValueTypes<'g> {
    fn of(graph: &'g GraphProto) -> ValueTypes<'g> {
        let mut values = Map::default();
        for vi in graph
            .input
            .iter()
            .chain(&graph.value_info)
            .chain(&graph.output)
        {
            let elem = vi
                .r#type
                .as_ref()
                .and_then(tensor_type)
                .and_then(|t| t.elem_type)
                .filter(|&t| t != 0);
            let entry = values.entry(vi.name()).or_insert((None, None));
            entry.0 = entry.0.or(elem);
            if entry.1.is_none() {
                entry.1 = value_info_shape(vi);
            }
        }
        ValueTypes { values }
    }

    fn elem_type(&self, name: &str) -> Option<i32> {
        self.values.get(name)?.0
    }

    fn shape(&self, name: &str) -> Option<&[Dim]> {
        self.values.get(name)?.1.as_deref()
    }
}

struct Matcher<'a, 'g> {
    ix: &'a GraphIndex<'g>,
    types: &'a ValueTypes<'g>,
    ranks: &'a Ranks<'a, 'g>,
}

/// A float constant read from the graph, with its type.
struct Found {
    param: Param,
    dtype: FloatType,
}

/// `D`, the scaled input: `P·x` or `p1·x − q·x`.
struct Scaled {
    scale: Param,
    /// The constants it was built from, to compare two `D`s by value.
    parts: Vec<Array>,
    nodes: Vec<usize>,
    dtypes: Vec<FloatType>,
}

/// Meta-ACON's β branch.
struct Branch {
    spatial_rank: usize,
    fc1: Conv,
    fc2: Conv,
    nodes: Vec<usize>,
    dtypes: Vec<FloatType>,
}

impl<'g> Matcher<'_, 'g> {
    /// A float constant.
    fn constant(&self, name: &str) -> Option<Found> {
        let c = self.ix.constant(name)?;
        let dtype = FloatType::from_onnx(c.tensor.data_type())?;
        let array = c.floats()?;
        Some(Found {
            param: Param {
                stored: Some(c.name),
                array,
            },
            dtype,
        })
    }

    /// `y = D·σ(Z) + p2·x` rooted at the `Add` node `add`.
    fn switch(&self, add: usize) -> Option<Block> {
        let ix = self.ix;
        let node = ix.node(add);
        let [output] = node.output.as_slice() else {
            return None;
        };
        if !node.attribute.is_empty() || !crate::model::opsets::is_default_domain(node.domain()) {
            return None;
        }
        let (a, b) = binary_inputs(node)?;
        either(a, b, |gated, linear| {
            let (q_node, q) = producer_op(ix, linear, "Mul", &[])?;
            let (qa, qb) = binary_inputs(q)?;
            either(qa, qb, |p2_name, x| {
                let p2 = self.constant(p2_name)?;
                let (g_node, g) = producer_op(ix, gated, "Mul", &[])?;
                let (ga, gb) = binary_inputs(g)?;
                either(ga, gb, |d, s| {
                    let (s_node, sig) = producer_op(ix, s, "Sigmoid", &[])?;
                    let [z] = sig.input.as_slice() else {
                        return None;
                    };
                    let scaled = self.scaled(d, x)?;
                    let mut nodes = vec![add, q_node, g_node, s_node];
                    nodes.extend(&scaled.nodes);
                    let mut dtypes = vec![p2.dtype];
                    dtypes.extend(&scaled.dtypes);
                    let beta = if let Some(extra) = self.same_scaled(z, d, &scaled, x) {
                        nodes.extend(extra);
                        Beta::One
                    } else {
                        let (m_node, m) = producer_op(ix, z, "Mul", &[])?;
                        let (ma, mb) = binary_inputs(m)?;
                        let (beta, extra) = either(ma, mb, |beta, d2| {
                            let extra = self.same_scaled(d2, d, &scaled, x)?;
                            Some((beta, extra))
                        })?;
                        nodes.push(m_node);
                        nodes.extend(extra);
                        if let Some(c) = self.constant(beta) {
                            dtypes.push(c.dtype);
                            Beta::Const(c.param)
                        } else {
                            let branch = self.meta_branch(beta, x)?;
                            nodes.extend(&branch.nodes);
                            dtypes.extend(&branch.dtypes);
                            Beta::Meta(Box::new(MetaConvs {
                                spatial_rank: branch.spatial_rank,
                                fc1: branch.fc1,
                                fc2: branch.fc2,
                            }))
                        }
                    };
                    self.finish(
                        x,
                        output,
                        scaled.scale.clone(),
                        Some(p2.param.clone()),
                        beta,
                        nodes,
                        dtypes,
                    )
                })
            })
        })
    }

    /// `y = x·σ(β·x)` rooted at the `Mul` node `mul`, β a constant. Plain
    /// SiLU, `x·σ(x)`, is left alone: runtimes fuse it already.
    fn swish(&self, mul: usize) -> Option<Block> {
        let ix = self.ix;
        let node = ix.node(mul);
        let [output] = node.output.as_slice() else {
            return None;
        };
        if !node.attribute.is_empty() || !crate::model::opsets::is_default_domain(node.domain()) {
            return None;
        }
        let (a, b) = binary_inputs(node)?;
        either(a, b, |x, s| {
            // D·σ(β·D) with D = P·x is the gated half of an ACON-C that did
            // not match as a whole (its other half is not p2·x): leave it.
            if self.is_scaled(x) {
                return None;
            }
            let (s_node, sig) = producer_op(ix, s, "Sigmoid", &[])?;
            let [z] = sig.input.as_slice() else {
                return None;
            };
            let (m_node, m) = producer_op(ix, z, "Mul", &[])?;
            let (ma, mb) = binary_inputs(m)?;
            let beta = either(ma, mb, |beta, x2| {
                (x2 == x).then_some(())?;
                self.constant(beta)
            })?;
            let one = Param {
                stored: None,
                array: Array::scalar(1.0),
            };
            self.finish(
                x,
                output,
                one,
                None,
                Beta::Const(beta.param),
                vec![mul, s_node, m_node],
                vec![beta.dtype],
            )
        })
    }

    /// `D` as `P·x` (`P` a constant) or `p1·x − q·x`.
    fn scaled(&self, d: &str, x: &str) -> Option<Scaled> {
        let ix = self.ix;
        if let Some((i, mul)) = producer_op(ix, d, "Mul", &[]) {
            let (a, b) = binary_inputs(mul)?;
            return either(a, b, |p, x2| {
                (x2 == x).then_some(())?;
                let c = self.constant(p)?;
                Some(Scaled {
                    parts: vec![c.param.array.clone()],
                    scale: c.param,
                    nodes: vec![i],
                    dtypes: vec![c.dtype],
                })
            });
        }
        let (i, sub) = producer_op(ix, d, "Sub", &[])?;
        let (left, right) = binary_inputs(sub)?;
        let term = |name: &str| {
            let (j, mul) = producer_op(ix, name, "Mul", &[])?;
            let (a, b) = binary_inputs(mul)?;
            either(a, b, |p, x2| {
                (x2 == x).then_some(())?;
                Some((j, self.constant(p)?))
            })
        };
        let (l_node, p1) = term(left)?;
        let (r_node, q) = term(right)?;
        let scale = p1.param.array.zip(&q.param.array, |a, b| a - b)?;
        Some(Scaled {
            scale: Param {
                stored: None,
                array: scale,
            },
            parts: vec![p1.param.array, q.param.array],
            nodes: vec![i, l_node, r_node],
            dtypes: vec![p1.dtype, q.dtype],
        })
    }

    /// True when `value` is `P·t` or `p1·t − q·t` for some tensor `t`.
    fn is_scaled(&self, value: &str) -> bool {
        let ix = self.ix;
        let scaled_by_constant = |name: &str| {
            producer_op(ix, name, "Mul", &[])
                .and_then(|(_, m)| binary_inputs(m))
                .and_then(|(a, b)| either(a, b, |p, t| self.constant(p).map(|_| t)))
        };
        if scaled_by_constant(value).is_some() {
            return true;
        }
        producer_op(ix, value, "Sub", &[])
            .and_then(|(_, sub)| binary_inputs(sub))
            .is_some_and(|(l, r)| {
                matches!((scaled_by_constant(l), scaled_by_constant(r)), (Some(a), Some(b)) if a == b)
            })
    }

    /// When `d2` computes what `d` does: the nodes it adds to the block
    /// (none when it is `d` itself).
    fn same_scaled(&self, d2: &str, d: &str, scaled: &Scaled, x: &str) -> Option<Vec<usize>> {
        if d2 == d {
            return Some(vec![]);
        }
        let other = self.scaled(d2, x)?;
        (other.parts == scaled.parts).then_some(other.nodes)
    }

    /// `β = σ(BN?(Conv(BN?(Conv(mean(x))))))`.
    fn meta_branch(&self, beta: &str, x: &str) -> Option<Branch> {
        let (s_node, sig) = producer_op(self.ix, beta, "Sigmoid", &[])?;
        let [g] = sig.input.as_slice() else {
            return None;
        };
        let mut nodes = vec![s_node];
        let mut dtypes = vec![];
        let (fc2, h) = self.conv_stage(g, &mut nodes, &mut dtypes)?;
        let (fc1, m) = self.conv_stage(h, &mut nodes, &mut dtypes)?;
        let rank = fc1.weight.array.dims.len();
        let (c, r) = (fc1.weight.array.dims[1], fc1.weight.array.dims[0]);
        let fits = fc2.weight.array.dims.len() == rank
            && fc2.weight.array.dims[..2] == [c, r]
            && fc1.bias.as_ref().is_none_or(|b| b.array.dims == [r])
            && fc2.bias.as_ref().is_none_or(|b| b.array.dims == [c]);
        if !fits {
            return None;
        }
        nodes.extend(self.spatial_mean(m, x, rank)?);
        Some(Branch {
            spatial_rank: rank - 2,
            fc1,
            fc2,
            nodes,
            dtypes,
        })
    }

    /// `BN?(Conv1x1(input))` writing `value`: the conv, BatchNorm folded in,
    /// and the conv's input.
    fn conv_stage(
        &self,
        value: &str,
        nodes: &mut Vec<usize>,
        dtypes: &mut Vec<FloatType>,
    ) -> Option<(Conv, &'g str)> {
        let ix = self.ix;
        let bn = match producer_op(
            ix,
            value,
            "BatchNormalization",
            &["epsilon", "momentum", "training_mode"],
        ) {
            Some((i, node)) => {
                let training = node
                    .attribute
                    .iter()
                    .any(|a| a.name() == "training_mode" && a.i() != 0);
                let [input, scale, bias, mean, var] = node.input.as_slice() else {
                    return None;
                };
                if training {
                    return None;
                }
                let epsilon = float_attr(node, "epsilon").unwrap_or(BN_DEFAULT_EPSILON);
                let mut read = |name: &str| {
                    let c = self.constant(name)?;
                    dtypes.push(c.dtype);
                    (c.param.array.dims.len() == 1).then_some(c.param.array)
                };
                let bn = BnConstants {
                    scale: read(scale)?,
                    bias: read(bias)?,
                    mean: read(mean)?,
                    var: read(var)?,
                    var_label: format!("`{var}`"),
                };
                nodes.push(i);
                Some((bn, epsilon, input.as_str()))
            }
            None => None,
        };
        let conv_out = bn.as_ref().map_or(value, |(_, _, input)| input);
        let (i, conv) = producer_op(
            ix,
            conv_out,
            "Conv",
            &[
                "auto_pad",
                "dilations",
                "group",
                "kernel_shape",
                "pads",
                "strides",
            ],
        )?;
        if !is_plain_1x1(conv) {
            return None;
        }
        let (input, w, b) = match conv.input.as_slice() {
            [input, w] => (input, w, None),
            [input, w, b] if !b.is_empty() => (input, w, Some(b)),
            [input, w, _] => (input, w, None),
            _ => return None,
        };
        let w = self.constant(w)?;
        let dims = &w.param.array.dims;
        if dims.len() < 3 || dims[2..].iter().any(|&d| d != 1) {
            return None;
        }
        let out_channels = dims[0];
        dtypes.push(w.dtype);
        let b = match b {
            Some(b) => {
                let c = self.constant(b)?;
                dtypes.push(c.dtype);
                if c.param.array.dims != [out_channels] {
                    return None;
                }
                Some(c.param)
            }
            None => None,
        };
        nodes.push(i);
        let conv = match bn {
            None => Conv {
                weight: w.param,
                bias: b,
            },
            Some((bn, epsilon, _)) => {
                if bn.scale.dims != [out_channels] {
                    return None;
                }
                let (wf, bf) =
                    fold_bn(&w.param.array, b.as_ref().map(|b| &b.array), &bn, epsilon).ok()?;
                Conv {
                    weight: Param {
                        stored: None,
                        array: wf,
                    },
                    bias: Some(Param {
                        stored: None,
                        array: bf,
                    }),
                }
            }
        };
        Some((conv, input.as_str()))
    }

    /// The nodes computing the mean of `x` over axes `2..rank`, keeping
    /// them, that write `value`.
    fn spatial_mean(&self, value: &str, x: &str, rank: usize) -> Option<Vec<usize>> {
        let ix = self.ix;
        let mut covered: BTreeSet<usize> = BTreeSet::new();
        let mut nodes = vec![];
        let mut current = value;
        while current != x {
            if nodes.len() > rank {
                return None;
            }
            if let Some((i, gap)) = producer_op(ix, current, "GlobalAveragePool", &[]) {
                if !covered.is_empty() {
                    return None;
                }
                covered.extend(2..rank);
                nodes.push(i);
                current = gap.input.first()?;
                continue;
            }
            let (i, mean) = producer_op(
                ix,
                current,
                "ReduceMean",
                &["axes", "keepdims", "noop_with_empty_axes"],
            )?;
            let keepdims = mean
                .attribute
                .iter()
                .find(|a| a.name() == "keepdims")
                .is_none_or(|a| a.i() == 1);
            if !keepdims {
                return None;
            }
            let axes = match (
                mean.attribute.iter().find(|a| a.name() == "axes"),
                mean.input.get(1).filter(|n| !n.is_empty()),
            ) {
                (Some(attr), None) if attr.r#type() == AttributeType::Ints => attr.ints.clone(),
                (None, Some(name)) => ix.constant(name)?.ints()?,
                _ => return None,
            };
            if axes.is_empty() {
                return None;
            }
            for a in axes {
                let a = if a < 0 { a + rank as i64 } else { a };
                let a = usize::try_from(a).ok()?;
                if !(2..rank).contains(&a) || !covered.insert(a) {
                    return None;
                }
            }
            nodes.push(i);
            current = mean.input.first()?;
        }
        (covered.len() == rank - 2 && !nodes.is_empty()).then_some(nodes)
    }

    /// The checks every block passes, then the block.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        x: &str,
        output: &str,
        scale: Param,
        offset: Option<Param>,
        beta: Beta,
        mut nodes: Vec<usize>,
        dtypes: Vec<FloatType>,
    ) -> Option<Block> {
        let ix = self.ix;
        nodes.sort_unstable();
        nodes.dedup();
        let out_node = ix.producer(output)?;
        if nodes.last() != Some(&out_node) {
            return None;
        }
        // Closed: what the block computes is read only inside it.
        let inside: Set<usize> = nodes.iter().copied().collect();
        for &n in &nodes[..nodes.len() - 1] {
            for value in &ix.node(n).output {
                if ix.is_graph_output(value)
                    || ix.consumers(value).iter().any(|c| !inside.contains(c))
                {
                    return None;
                }
            }
        }
        // One float type.
        let x_type = self.types.elem_type(x).and_then(FloatType::from_onnx);
        let dtype = x_type.or(dtypes.first().copied())?;
        if dtypes.iter().any(|&t| t != dtype) {
            return None;
        }
        if self.types.elem_type(x).is_some() && x_type.is_none() {
            return None;
        }
        // Per-channel parameters, for x's rank.
        let meta_rank = match &beta {
            Beta::Meta(convs) => Some(convs.spatial_rank + 2),
            _ => None,
        };
        let shape = self
            .types
            .shape(x)
            .or_else(|| self.types.shape(output))
            .map(<[Dim]>::to_vec);
        let rank = match (shape.as_ref().map(Vec::len), meta_rank) {
            (Some(s), Some(r)) if s != r => return None,
            (Some(s), _) => s,
            (None, Some(r)) => r,
            (None, None) => self.ranks.rank(x)?,
        };
        let mut channels = shape.as_ref().and_then(|s| known_dim(s, 1));
        if let Beta::Meta(convs) = &beta {
            let c = convs.fc1.weight.array.dims[1];
            if channels.is_some_and(|known| known != c) {
                return None;
            }
            channels = Some(c);
        }
        // Without a known C, the parameters must at least agree on one.
        let mut params: Vec<&Array> = vec![&scale.array];
        params.extend(offset.as_ref().map(|p| &p.array));
        if let Beta::Const(b) = &beta {
            params.push(&b.array);
        }
        for p in &params {
            if !per_channel(&p.dims, rank, channels) {
                return None;
            }
            if channels.is_none() && p.len() > 1 {
                channels = Some(p.len());
            }
        }
        if params.iter().any(|p| !per_channel(&p.dims, rank, channels)) {
            return None;
        }
        Some(Block {
            x: x.to_owned(),
            output: output.to_owned(),
            dtype,
            scale,
            offset,
            beta,
            nodes,
        })
    }
}

/// A conv that is 1×1 in effect on a `[N, C, 1, …, 1]` input: one group, no
/// padding, kernel 1 where it says.
fn is_plain_1x1(conv: &NodeProto) -> bool {
    conv.attribute.iter().all(|a| match a.name() {
        "group" => a.i() == 1,
        "kernel_shape" => a.ints.iter().all(|&k| k == 1),
        "pads" => a.ints.iter().all(|&p| p == 0),
        "auto_pad" => matches!(a.s(), b"" | b"NOTSET" | b"VALID"),
        "strides" | "dilations" => a.ints.iter().all(|&v| v >= 1),
        _ => false,
    })
}

fn float_attr(node: &NodeProto, name: &str) -> Option<f64> {
    node.attribute
        .iter()
        .find(|a| a.name() == name && a.r#type() == AttributeType::Float)
        .map(|a| a.f() as f64)
}
