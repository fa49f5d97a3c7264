//! The ACON regions of a verify, and the structure check around them.
//!
//! ORIGINAL is first brought to its ACON form ([`crate::Pipeline::native`]:
//! functions inlined, recognised blocks made custom-op nodes), where every
//! ACON activation, whatever form it came in, is one ACON-domain node: a
//! region. Each region is aligned with CONVERTED by the values it reads and
//! writes, never by node names: in CONVERTED, a region is every node on a
//! path from the region's inputs (`X`, and `beta` where it is computed) to
//! its output `Y`, which a converter keeps. A region that reads anything
//! else (a graph input, another computed value) is not aligned.
//!
//! Outside the regions CONVERTED must be ORIGINAL's ACON form: the same
//! nodes (matched by their outputs) with the same op, inputs and attributes,
//! subgraphs compared the same way, the same initializer bytes for what those
//! nodes read, and the same graph inputs and outputs. Nodes that only feed
//! constants to regions are parameters, not structure, on either side.
//!
//! For each region this module builds two one-region models: the ACON node
//! with its constants (run on the reference kernels) and CONVERTED's region
//! nodes with theirs (run on plain tract). `verify` feeds both.

use std::collections::{BTreeSet, HashMap, HashSet};

use prost::Message;

use crate::graph::{GraphIndex, Scope};
use crate::model::build::tensor_value_info;
use crate::model::check::node_label;
use crate::model::facts::{Dim, tensor_type, value_info_shape};
use crate::model::tensor::FloatType;
use crate::ops::AconKind;
use crate::passes::ConvertOptions;
use crate::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};

/// More nodes than this between a region's inputs and its output is not
/// one activation.
const MAX_REGION_NODES: usize = 64;

/// One ACON activation of ORIGINAL, with its two one-region models.
#[derive(Debug, Clone)]
pub struct Region {
    /// Its output, the value both models write.
    pub output: String,
    pub op_type: String,
    /// The ACON node's name in ORIGINAL's ACON form.
    pub node: String,
    /// The graph it is in: empty for the main graph, else the path of the
    /// nodes holding the subgraph (`if_out.then_branch`).
    pub graph: String,
    /// The values it reads that are not constants: `X` first.
    pub inputs: Vec<String>,
    pub dtype: FloatType,
    /// The ACON node and its constants.
    pub reference: ModelProto,
    /// CONVERTED's nodes for it, or why they could not be found.
    pub candidate: Result<ModelProto, String>,
    /// X's rank and channel count, where known: what stress inputs need.
    pub rank: Option<usize>,
    pub channels: Option<usize>,
}

/// A difference outside the regions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Difference {
    pub graph: String,
    /// The node (its first output) or value it is about.
    pub node: String,
    pub field: String,
    pub detail: String,
}

/// Regions and structure differences of a pair of models.
#[derive(Debug, Default)]
pub struct Alignment {
    pub regions: Vec<Region>,
    pub differences: Vec<Difference>,
}

impl Alignment {
    /// True when CONVERTED looks like nothing made from ORIGINAL: no region
    /// aligned although there are some.
    pub fn unaligned(&self) -> bool {
        !self.regions.is_empty() && self.regions.iter().all(|r| r.candidate.is_err())
    }
}

/// Aligns `acon_form` (ORIGINAL after `Pipeline::native`) with `converted`.
pub fn align(
    acon_form: &ModelProto,
    converted: &ModelProto,
    options: &ConvertOptions,
) -> Alignment {
    let mut out = Alignment::default();
    let (Some(ga), Some(gc)) = (&acon_form.graph, &converted.graph) else {
        return out;
    };
    let cx = Cx {
        options,
        ir_version: converted.ir_version(),
        opsets_a: acon_form.opset_import.clone(),
        opsets_c: converted.opset_import.clone(),
    };
    cx.pair(ga, gc, "", None, None, &mut out);
    out
}

struct Cx<'o> {
    options: &'o ConvertOptions,
    ir_version: i64,
    opsets_a: Vec<crate::proto::OperatorSetIdProto>,
    opsets_c: Vec<crate::proto::OperatorSetIdProto>,
}

impl Cx<'_> {
    fn pair(
        &self,
        ga: &GraphProto,
        gc: &GraphProto,
        path: &str,
        parent_a: Option<&Scope>,
        parent_c: Option<&Scope>,
        out: &mut Alignment,
    ) {
        let sa = Scope::for_graph(ga, parent_a);
        let sc = Scope::for_graph(gc, parent_c);
        let ixa = GraphIndex::new(ga, &sa);
        let ixc = GraphIndex::new(gc, &sc);
        let diff = |out: &mut Alignment, node: &str, field: &str, detail: String| {
            out.differences.push(Difference {
                graph: path.to_owned(),
                node: node.to_owned(),
                field: field.to_owned(),
                detail,
            });
        };

        // The regions, and the nodes they take on each side.
        let mut region_a: HashSet<usize> = HashSet::new();
        let mut region_c: HashSet<usize> = HashSet::new();
        for (i, node) in ga.node.iter().enumerate() {
            if !self.options.is_acon_domain(node.domain()) {
                continue;
            }
            region_a.insert(i);
            let Some(y) = node.output.first() else {
                continue;
            };
            let inputs: Vec<String> = node
                .input
                .iter()
                .filter(|n| !n.is_empty() && ixa.constant(n).is_none())
                .cloned()
                .collect();
            let dtype = region_dtype(node, &ixa, ga);
            let (rank, channels) = x_rank_and_channels(node, &ixa, ga);
            let shape = Shape { dtype, rank };
            let candidate = match extract(&ixc, gc, &inputs, y) {
                Ok((nodes, constants)) => {
                    region_c.extend(nodes.iter().copied());
                    Ok(self.model_c(gc, &nodes, constants, &inputs, y, shape))
                }
                Err(why) => Err(why),
            };
            out.regions.push(Region {
                output: y.clone(),
                op_type: node.op_type().to_owned(),
                node: node_label(node).to_owned(),
                graph: path.to_owned(),
                inputs: inputs.clone(),
                dtype,
                reference: self.model_a(node, &ixa, &inputs, shape),
                candidate,
                rank,
                channels,
            });
        }

        // Everything else, node by node.
        let structural_a: Vec<usize> = (0..ga.node.len())
            .filter(|i| !region_a.contains(i) && !feeds_only(&ixa, *i, &region_a))
            .collect();
        let structural_c: Vec<usize> = (0..gc.node.len())
            .filter(|i| !region_c.contains(i) && !feeds_only(&ixc, *i, &region_c))
            .collect();
        let mut by_output: HashMap<&str, usize> = HashMap::new();
        for &i in &structural_c {
            if let Some(o) = gc.node[i].output.first() {
                by_output.insert(o, i);
            }
        }
        let mut matched: HashSet<usize> = HashSet::new();
        for &i in &structural_a {
            let a = &ga.node[i];
            let key = a.output.first().map(String::as_str).unwrap_or("");
            let Some(&j) = by_output.get(key) else {
                diff(
                    out,
                    key,
                    "node",
                    format!(
                        "{} node `{}` is missing from CONVERTED",
                        a.op_type(),
                        node_label(a)
                    ),
                );
                continue;
            };
            matched.insert(j);
            let c = &gc.node[j];
            if (a.domain(), a.op_type()) != (c.domain(), c.op_type()) {
                diff(
                    out,
                    key,
                    "op_type",
                    format!(
                        "the node writing `{key}` is {} in ORIGINAL and {} in CONVERTED",
                        op_name(a),
                        op_name(c)
                    ),
                );
            }
            if a.input != c.input {
                diff(
                    out,
                    key,
                    "input",
                    format!("{:?} became {:?}", a.input, c.input),
                );
            }
            if a.output != c.output {
                diff(
                    out,
                    key,
                    "output",
                    format!("{:?} became {:?}", a.output, c.output),
                );
            }
            self.attributes(a, c, key, path, &sa, &sc, out);
        }
        for &j in &structural_c {
            if !matched.contains(&j) {
                let c = &gc.node[j];
                diff(
                    out,
                    c.output.first().map(String::as_str).unwrap_or(""),
                    "node",
                    format!(
                        "CONVERTED has an extra {} node `{}`",
                        c.op_type(),
                        node_label(c)
                    ),
                );
            }
        }

        // The constants that structure reads.
        let init_a: HashMap<&str, &TensorProto> =
            ga.initializer.iter().map(|t| (t.name(), t)).collect();
        let init_c: HashMap<&str, &TensorProto> =
            gc.initializer.iter().map(|t| (t.name(), t)).collect();
        let mut read: BTreeSet<&str> = BTreeSet::new();
        for &j in &structural_c {
            read.extend(gc.node[j].input.iter().map(String::as_str));
        }
        read.extend(gc.output.iter().map(|o| o.name()));
        for name in read {
            match (init_a.get(name), init_c.get(name)) {
                (Some(a), Some(c)) if tensor_bytes(a) != tensor_bytes(c) => diff(
                    out,
                    name,
                    "initializer",
                    format!("initializer `{name}` holds other values in CONVERTED"),
                ),
                (Some(_), None) | (None, Some(_)) => diff(
                    out,
                    name,
                    "initializer",
                    format!("`{name}` is an initializer in only one of the models"),
                ),
                _ => {}
            }
        }

        // The interface.
        for (what, a, c) in [
            ("input", &ga.input, &gc.input),
            ("output", &ga.output, &gc.output),
        ] {
            let names = |v: &[crate::proto::ValueInfoProto]| -> Vec<String> {
                v.iter().map(|i| i.name().to_owned()).collect()
            };
            if names(a) != names(c) {
                diff(
                    out,
                    "",
                    what,
                    format!("graph {what}s {:?} became {:?}", names(a), names(c)),
                );
                continue;
            }
            for (va, vc) in a.iter().zip(c.iter()) {
                if va.r#type != vc.r#type {
                    diff(
                        out,
                        va.name(),
                        what,
                        format!("the type of graph {what} `{}` differs", va.name()),
                    );
                }
            }
        }
    }

    /// Attributes compared as stored, subgraphs compared recursively.
    #[allow(clippy::too_many_arguments)]
    fn attributes(
        &self,
        a: &NodeProto,
        c: &NodeProto,
        key: &str,
        path: &str,
        sa: &Scope,
        sc: &Scope,
        out: &mut Alignment,
    ) {
        let strip = |attr: &AttributeProto| AttributeProto {
            g: None,
            graphs: vec![],
            ..attr.clone()
        };
        let names = |n: &NodeProto| -> Vec<String> {
            n.attribute.iter().map(|x| x.name().to_owned()).collect()
        };
        if names(a) != names(c) {
            out.differences.push(Difference {
                graph: path.to_owned(),
                node: key.to_owned(),
                field: "attribute".into(),
                detail: format!("attributes {:?} became {:?}", names(a), names(c)),
            });
            return;
        }
        for (x, y) in a.attribute.iter().zip(&c.attribute) {
            if strip(x) != strip(y) {
                out.differences.push(Difference {
                    graph: path.to_owned(),
                    node: key.to_owned(),
                    field: format!("attribute {}", x.name()),
                    detail: format!("attribute `{}` differs", x.name()),
                });
            }
            let subs_a: Vec<&GraphProto> = x.g.iter().chain(&x.graphs).collect();
            let subs_c: Vec<&GraphProto> = y.g.iter().chain(&y.graphs).collect();
            if subs_a.len() != subs_c.len() {
                continue;
            }
            for (k, (ga, gc)) in subs_a.iter().zip(&subs_c).enumerate() {
                let sub_path = format!(
                    "{}{key}.{}{}",
                    if path.is_empty() {
                        String::new()
                    } else {
                        format!("{path}/")
                    },
                    x.name(),
                    if subs_a.len() > 1 {
                        format!("[{k}]")
                    } else {
                        String::new()
                    }
                );
                self.pair(ga, gc, &sub_path, Some(sa), Some(sc), out);
            }
        }
    }

    /// The ACON node alone, its constants as initializers.
    fn model_a(
        &self,
        node: &NodeProto,
        ix: &GraphIndex,
        inputs: &[String],
        shape: Shape,
    ) -> ModelProto {
        let mut initializer = vec![];
        for name in node.input.iter().filter(|n| !n.is_empty()) {
            if let Some(c) = ix.constant(name) {
                let mut t = c.tensor;
                t.name = Some(name.clone());
                initializer.push(t);
            }
        }
        let mut node = node.clone();
        node.attribute
            .retain(|a| a.g.is_none() && a.graphs.is_empty());
        let output = node_output(&node);
        self.model(
            vec![node],
            initializer,
            inputs,
            &output,
            shape,
            &self.opsets_a,
        )
    }

    /// CONVERTED's region nodes, in graph order, and their constants.
    fn model_c(
        &self,
        graph: &GraphProto,
        nodes: &BTreeSet<usize>,
        constants: Vec<TensorProto>,
        inputs: &[String],
        output: &str,
        shape: Shape,
    ) -> ModelProto {
        let nodes = nodes.iter().map(|&i| graph.node[i].clone()).collect();
        self.model(nodes, constants, inputs, output, shape, &self.opsets_c)
    }

    fn model(
        &self,
        node: Vec<NodeProto>,
        initializer: Vec<TensorProto>,
        inputs: &[String],
        output: &str,
        shape: Shape,
        opsets: &[crate::proto::OperatorSetIdProto],
    ) -> ModelProto {
        let elem = shape.dtype.onnx() as i32;
        // X with its rank where known (MetaAconC's `[R, C]` weights need it),
        // every dim unknown: the checks feed several shapes.
        let declared = |name: &str, rank: Option<usize>| {
            let mut vi = tensor_value_info(name, elem, &vec![Dim::Unknown; rank.unwrap_or(0)]);
            if rank.is_none()
                && let Some(crate::proto::type_proto::Value::TensorType(t)) =
                    vi.r#type.as_mut().and_then(|t| t.value.as_mut())
            {
                t.shape = None;
            }
            vi
        };
        ModelProto {
            ir_version: Some(self.ir_version.max(7)),
            producer_name: Some("acon-onnx verify".into()),
            opset_import: opsets.to_vec(),
            graph: Some(GraphProto {
                name: Some("region".into()),
                node,
                initializer,
                input: inputs
                    .iter()
                    .enumerate()
                    .map(|(i, n)| declared(n, if i == 0 { shape.rank } else { None }))
                    .collect(),
                output: vec![declared(output, None)],
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// What a region model declares of its input X.
#[derive(Debug, Clone, Copy)]
struct Shape {
    dtype: FloatType,
    rank: Option<usize>,
}

fn op_name(node: &NodeProto) -> String {
    match node.domain() {
        "" | "ai.onnx" => node.op_type().to_owned(),
        d => format!("{d}::{}", node.op_type()),
    }
}

fn node_output(node: &NodeProto) -> String {
    node.output.first().cloned().unwrap_or_default()
}

/// The nodes of `graph` on paths from `inputs` to `output`, and the
/// constants they read (named as they are read).
fn extract(
    ix: &GraphIndex,
    graph: &GraphProto,
    inputs: &[String],
    output: &str,
) -> Result<(BTreeSet<usize>, Vec<TensorProto>), String> {
    if ix.producer(output).is_none() {
        return Err(format!("no node of CONVERTED writes `{output}`"));
    }
    let mut nodes = BTreeSet::new();
    let mut constants = vec![];
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = vec![output];
    while let Some(v) = stack.pop() {
        if !seen.insert(v) || inputs.iter().any(|i| i == v) {
            continue;
        }
        if let Some(c) = ix.constant(v) {
            let mut t = c.tensor;
            t.name = Some(v.to_owned());
            constants.push(t);
            continue;
        }
        let Some(p) = ix.producer(v) else {
            return Err(format!(
                "in CONVERTED, `{output}` depends on `{v}`, which is neither an input of \
                 the region ({}) nor a constant",
                inputs.join(", ")
            ));
        };
        let node = &graph.node[p];
        if node
            .attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            return Err(format!(
                "in CONVERTED, `{output}` is computed through node `{}`, which holds a subgraph",
                node_label(node)
            ));
        }
        nodes.insert(p);
        if nodes.len() > MAX_REGION_NODES {
            return Err(format!(
                "in CONVERTED, more than {MAX_REGION_NODES} nodes lie between the region's \
                 inputs and `{output}`"
            ));
        }
        stack.extend(
            node.input
                .iter()
                .filter(|n| !n.is_empty())
                .map(String::as_str),
        );
    }
    Ok((nodes, constants))
}

/// True when node `i` only makes constants read by `region` nodes, or by
/// nothing (a parameter of a region, or one a rewrite left unread: not
/// structure).
fn feeds_only(ix: &GraphIndex, i: usize, region: &HashSet<usize>) -> bool {
    let node = ix.node(i);
    !node.output.is_empty()
        && node.output.iter().all(|o| {
            ix.constant(o).is_some()
                && !ix.is_graph_output(o)
                && ix.consumers(o).iter().all(|c| region.contains(c))
        })
}

/// A tensor's contents, whatever its name.
fn tensor_bytes(t: &TensorProto) -> Vec<u8> {
    TensorProto {
        name: None,
        doc_string: None,
        ..t.clone()
    }
    .encode_to_vec()
}

/// The float type of an ACON node: of its constants, else of X's record.
fn region_dtype(node: &NodeProto, ix: &GraphIndex, graph: &GraphProto) -> FloatType {
    node.input
        .iter()
        .filter(|n| !n.is_empty())
        .find_map(|n| {
            ix.constant(n)
                .and_then(|c| FloatType::from_onnx(c.tensor.data_type()))
        })
        .or_else(|| {
            let x = node.input.first()?;
            graph
                .value_info
                .iter()
                .chain(&graph.input)
                .find(|v| v.name() == x)
                .and_then(|v| v.r#type.as_ref())
                .and_then(tensor_type)
                .and_then(|t| FloatType::from_onnx(t.elem_type()))
        })
        .unwrap_or(FloatType::F32)
}

/// X's rank and channel count: from what the graph records, else from the
/// parameters (a per-channel `[1, C, 1, 1]` has X's rank; MetaAconC's W1 is
/// `[R, C, 1, …]`).
fn x_rank_and_channels(
    node: &NodeProto,
    ix: &GraphIndex,
    graph: &GraphProto,
) -> (Option<usize>, Option<usize>) {
    let x = node.input.first().map(String::as_str).unwrap_or("");
    let recorded = graph
        .value_info
        .iter()
        .chain(&graph.input)
        .chain(&graph.output)
        .find(|v| v.name() == x)
        .and_then(value_info_shape);
    let (mut rank, mut channels) = match &recorded {
        Some(s) => (
            Some(s.len()),
            match s.get(1) {
                Some(Dim::Known(c)) => usize::try_from(*c).ok(),
                _ => None,
            },
        ),
        None => (None, None),
    };
    let params: Vec<Vec<i64>> = node
        .input
        .iter()
        .skip(1)
        .filter(|n| !n.is_empty())
        .filter_map(|n| ix.constant(n).map(|c| c.tensor.dims))
        .collect();
    let meta = AconKind::MetaC.signature();
    let w1 = node
        .input
        .get(meta.index("W1"))
        .filter(|n| !n.is_empty())
        .and_then(|n| ix.constant(n).map(|c| c.tensor.dims));
    if AconKind::from_op_type(node.op_type()) == Some(AconKind::MetaC)
        && let Some(w1) = w1.filter(|d| d.len() >= 2)
    {
        if w1.len() > 2 {
            rank = rank.or(Some(w1.len()));
        }
        channels = channels.or(usize::try_from(w1[1]).ok());
    }
    for p in &params {
        if rank.is_none() && p.len() >= 2 {
            rank = Some(p.len());
        }
        if channels.is_none()
            && let Some(&c) = p.iter().find(|&&d| d > 1)
        {
            channels = usize::try_from(c).ok();
        }
    }
    (rank, channels)
}
