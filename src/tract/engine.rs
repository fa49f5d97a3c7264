//! Handing a model to tract and running it.
//!
//! In run order, [`TractModel::new`]: inline model-local functions
//! (tract never reads them) and, for the native kernels, make recognised
//! ACON blocks of standard ops custom-op nodes ([`Pipeline::native`]); walk every graph and
//! subgraph, and either give each ACON-domain node the op type of its native
//! kernel after checking it against the spec ([`Kernels::Native`]) or refuse
//! it ([`Kernels::Plain`], for converted models, which must hold standard
//! ops only); refuse any node tract has no builder for, naming it (a `Loop`
//! with its own message: tract has none, upstream issue #277); encode
//! the in-memory copy and let tract-onnx parse it, with the model's folder
//! as the root of external data. [`TractModel::run`] then fixes the input
//! shapes, optimizes and caches one plan per distinct input signature.
//!
//! Every call into tract goes through [`guarded`], so a panic inside tract is
//! an error naming the file and the step, never a crash. Errors are the
//! tract layer's [`Error`], tract's own kept as their source.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::prelude::*;

use crate::model::facts::{Dim, Facts, value_info_shape};
use crate::model::opsets::is_default_domain;
use crate::model::tensor::{FloatType, type_name};
use crate::ops::{self, LocalFunctions, NodeClass};
use crate::passes::{ConvertOptions, Pipeline, is_swish, swish_alpha};
use crate::proto::{GraphProto, ModelProto, NodeProto, type_proto};
use crate::tract::error::{Error, NodeLabel, Result, TractStep};
use crate::tract::kernels;

/// Whether ACON nodes run on the native kernels or are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// ACON-domain nodes run on the kernels of [`kernels`], taking the fused
    /// one-pass path where it applies (`run`, `bench`).
    Native,
    /// ACON-domain nodes run on the kernels of [`kernels`] as written from
    /// the formulas, with libm's `exp` (`verify`'s independent reference).
    Reference,
    /// ACON-domain nodes run on the reference formulas rounded to their
    /// arithmetic type at every step ([`kernels::Mode::Working`]): how a
    /// runtime evaluating them in that type rounds.
    Working,
    /// Plain tract: an ACON node is an error (a converted model must not
    /// hold one).
    Plain,
}

/// One declared graph input (initializers excluded), in graph order.
#[derive(Debug, Clone)]
pub struct InputDecl {
    pub name: String,
    /// The ONNX element type.
    pub elem_type: i32,
    /// The declared shape, `None` when the model gives none.
    pub shape: Option<Vec<Dim>>,
}

impl InputDecl {
    pub fn type_name(&self) -> String {
        type_name(self.elem_type)
    }

    pub fn shape_string(&self) -> String {
        match &self.shape {
            Some(s) => crate::model::facts::shape_string(s),
            None => "unknown shape".into(),
        }
    }
}

type Plan = Arc<TypedRunnableModel>;

/// The types and shapes of a run's inputs: what a plan is made for.
type Signature = Vec<(DatumType, Vec<usize>)>;

/// A model parsed by tract, ready to run on inputs of any shape it accepts.
pub struct TractModel {
    pub path: PathBuf,
    /// How messages name this model: `ORIGINAL`, `CONVERTED`, `MODEL`.
    pub role: &'static str,
    pub inputs: Vec<InputDecl>,
    pub outputs: Vec<String>,
    /// ACON nodes handed to the native kernels.
    pub native_nodes: usize,
    /// Of those, the blocks of standard ops `recognise-acon` found.
    pub recognised: Vec<crate::passes::RecognisedBlock>,
    inference: InferenceModel,
    plans: RefCell<Vec<(Signature, Plan)>>,
}

impl TractModel {
    /// Loads `path` for tract (see the module doc for the steps).
    pub fn load(
        path: &Path,
        role: &'static str,
        kernels: Kernels,
        options: &ConvertOptions,
    ) -> Result<TractModel> {
        let model = crate::load(path).map_err(|source| Error::Load {
            role,
            path: path.to_owned(),
            source,
        })?;
        TractModel::new(model, path, role, kernels, options)
    }

    /// Hands the in-memory `model` (read from `path`) to tract.
    pub fn new(
        mut model: ModelProto,
        path: &Path,
        role: &'static str,
        kernels: Kernels,
        options: &ConvertOptions,
    ) -> Result<TractModel> {
        let prepare_error = |source: Error| Error::Prepare {
            role,
            path: path.to_owned(),
            source: Box::new(source),
        };
        // On the kernels, ACON blocks of standard ops become custom-op nodes
        // too. Plain tract runs a model as it is: a Swish stays (and is
        // refused below when tract would compute it wrongly).
        let mut prepare = options.clone();
        let pipeline = match kernels {
            Kernels::Native | Kernels::Reference | Kernels::Working => Pipeline::native(),
            Kernels::Plain => {
                prepare.skip_passes.push("swish-as-acon".into());
                Pipeline::inline()
            }
        };
        let prepared = pipeline
            .run(&mut model, &prepare)
            .map_err(|e| prepare_error(e.into()))?;
        let framework = framework(kernels);
        let native_nodes =
            prepare_nodes(&mut model, kernels, options, &framework).map_err(prepare_error)?;
        if let Some(graph) = model.graph.as_mut() {
            forget_symbols(graph);
        }
        let graph = model.graph.as_ref().ok_or_else(|| Error::NoGraph {
            role,
            path: path.to_owned(),
        })?;
        let inputs = input_decls(graph);
        let outputs: Vec<String> = graph.output.iter().map(|o| o.name().to_owned()).collect();
        let bytes = model.encode_to_vec();
        drop(model);
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_string_lossy()
            .into_owned();
        let parsed = guarded(role, path, TractStep::Load, || {
            let proto = framework.proto_model_for_read(&mut bytes.as_slice())?;
            framework.parse(&proto, Some(&dir))
        })?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(Error::Undefined {
                role,
                path: path.to_owned(),
                values: parsed.unresolved_inputs,
            });
        }
        let inference = parsed.model;
        // tract lists the inputs that no initializer fills, in graph order;
        // check that we agree, since inputs are passed by position.
        let tract_inputs: Vec<String> = inference
            .input_outlets()
            .map_err(|source| Error::Tract {
                role,
                path: path.to_owned(),
                step: TractStep::Load,
                source,
            })?
            .iter()
            .map(|o| inference.node(o.node).name.clone())
            .collect();
        let ours: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
        if tract_inputs != ours {
            return Err(Error::InputsDisagree {
                role,
                path: path.to_owned(),
                tract: tract_inputs,
                declared: ours,
            });
        }
        Ok(TractModel {
            path: path.to_owned(),
            role,
            inputs,
            outputs,
            native_nodes,
            recognised: prepared.recognised,
            inference,
            plans: RefCell::new(vec![]),
        })
    }

    /// tract's own model, as tract-onnx parsed it (ACON nodes on the
    /// kernels asked for), for callers that type, optimise or serialize it.
    pub fn inference(&self) -> &InferenceModel {
        &self.inference
    }

    /// [`TractModel::inference`], taken out.
    pub fn into_inference(self) -> InferenceModel {
        self.inference
    }

    /// The optimized plan for inputs of these types and shapes (cached).
    pub fn plan(&self, inputs: &[Tensor]) -> Result<Plan> {
        let key: Signature = inputs
            .iter()
            .map(|t| (t.datum_type(), t.shape().to_vec()))
            .collect();
        if let Some((_, plan)) = self.plans.borrow().iter().find(|(k, _)| *k == key) {
            return Ok(plan.clone());
        }
        if inputs.len() != self.inputs.len() {
            return Err(Error::InputCount {
                role: self.role,
                path: self.path.clone(),
                expected: self.inputs.len(),
                got: inputs.len(),
            });
        }
        let signature: Vec<String> = self
            .inputs
            .iter()
            .zip(&key)
            .map(|(d, (dt, shape))| format!("{} {dt:?} {shape:?}", d.name))
            .collect();
        let step = TractStep::Prepare {
            inputs: signature.join(", "),
        };
        let plan = guarded(self.role, &self.path, step, || {
            let mut model = self.inference.clone();
            for (ix, (dt, shape)) in key.iter().enumerate() {
                model.set_input_fact(ix, InferenceFact::dt_shape(*dt, shape.as_slice()))?;
            }
            model.into_optimized()?.into_runnable()
        })?;
        self.plans.borrow_mut().push((key, plan.clone()));
        Ok(plan)
    }

    /// Runs the model once.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let plan = self.plan(inputs)?;
        let values: TVec<TValue> = inputs.iter().map(|t| t.clone().into_tvalue()).collect();
        let outputs = guarded(self.role, &self.path, TractStep::Run, || plan.run(values))?;
        Ok(outputs.into_iter().map(|v| v.into_tensor()).collect())
    }
}

/// Makes the symbolic dims of intermediate values and outputs unknown.
/// tract fixes the inputs' shapes for each plan, and would otherwise try to
/// unify, say, `batch` in a value's recorded shape with the batch of 3 it
/// was given, and fail (the dynamo exporter records every value's shape).
/// The inputs keep their symbols: they name the dims `--dim` sets.
fn forget_symbols(graph: &mut GraphProto) {
    use crate::proto::tensor_shape_proto::dimension::Value;
    crate::graph::for_each_graph_edit(graph, &mut |g| {
        for vi in g.value_info.iter_mut().chain(g.output.iter_mut()) {
            let Some(type_proto::Value::TensorType(t)) =
                vi.r#type.as_mut().and_then(|t| t.value.as_mut())
            else {
                continue;
            };
            for d in t.shape.iter_mut().flat_map(|s| s.dim.iter_mut()) {
                if matches!(d.value, Some(Value::DimParam(_))) {
                    d.value = None;
                }
            }
        }
    });
}

/// tract-onnx's op register, plus the native ACON kernels when asked.
pub fn framework(kernels: Kernels) -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    match kernels {
        Kernels::Native => kernels::register(&mut onnx.op_register, kernels::Mode::Fused),
        Kernels::Reference => kernels::register(&mut onnx.op_register, kernels::Mode::Reference),
        Kernels::Working => kernels::register(&mut onnx.op_register, kernels::Mode::Working),
        Kernels::Plain => {}
    }
    onnx
}

/// Runs `f`, turning a tract error into one that says which model (`role`,
/// `path`) failed at which `step`, and a panic into an error instead of a
/// crash.
pub fn guarded<T>(
    role: &'static str,
    path: &Path,
    step: TractStep,
    f: impl FnOnce() -> TractResult<T>,
) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(Error::Tract {
            role,
            path: path.to_owned(),
            step,
            source,
        }),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            Err(Error::Panicked {
                role,
                path: path.to_owned(),
                step,
                message,
            })
        }
    }
}

/// For each name of `reference`, its position in `candidate`: by name, or
/// by position when the names differ but the counts agree.
pub fn match_names(
    reference: &[String],
    candidate: &[String],
    what: &'static str,
) -> Result<Vec<usize>> {
    let by_name: Option<Vec<usize>> = reference
        .iter()
        .map(|n| candidate.iter().position(|c| c == n))
        .collect();
    if let Some(map) = by_name
        && candidate.len() == reference.len()
    {
        return Ok(map);
    }
    if candidate.len() == reference.len() {
        return Ok((0..reference.len()).collect());
    }
    Err(Error::DifferentNames {
        what,
        reference: reference.to_vec(),
        candidate: candidate.to_vec(),
    })
}

/// The graph inputs that no initializer fills.
fn input_decls(graph: &GraphProto) -> Vec<InputDecl> {
    let initialized: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name()).collect();
    graph
        .input
        .iter()
        .filter(|i| !initialized.contains(i.name()))
        .map(|i| {
            let elem_type = match i.r#type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(type_proto::Value::TensorType(t)) => t.elem_type(),
                _ => 0,
            };
            InputDecl {
                name: i.name().to_owned(),
                elem_type,
                shape: value_info_shape(i),
            }
        })
        .collect()
}

/// Renames (or refuses) ACON nodes and checks that tract implements every
/// node, in every graph. Returns how many nodes go to native kernels.
fn prepare_nodes(
    model: &mut ModelProto,
    kernels: Kernels,
    options: &ConvertOptions,
    framework: &tract_onnx::Onnx,
) -> Result<usize> {
    let functions = LocalFunctions::of(model);
    let mut walk = Walk {
        kernels,
        options,
        framework,
        functions,
        native: 0,
    };
    if let Some(graph) = model.graph.as_mut() {
        walk.graph(graph, None, 0)?;
    }
    Ok(walk.native)
}

/// tract 0.23.9 has no `Loop` (tract issue #277): say so, naming the node,
/// rather than let tract fail on the model with a generic message.
fn refuse_loop(node: &NodeProto) -> Result<()> {
    if node.op_type() == "Loop" && is_default_domain(node.domain()) {
        return Err(Error::Loop {
            node: NodeLabel::of(node),
        });
    }
    Ok(())
}

/// Why tract cannot run `model` at all (its first `Loop`, in any graph),
/// before anything is loaded.
pub fn cannot_run(model: &ModelProto) -> Option<Error> {
    let mut why = None;
    if let Some(g) = model.graph.as_ref() {
        crate::graph::for_each_graph(g, &mut |g| {
            for node in &g.node {
                if why.is_none()
                    && let Err(e) = refuse_loop(node)
                {
                    why = Some(e);
                }
            }
        });
    }
    why
}

struct Walk<'a> {
    kernels: Kernels,
    options: &'a ConvertOptions,
    framework: &'a tract_onnx::Onnx,
    functions: LocalFunctions,
    native: usize,
}

impl Walk<'_> {
    fn graph(&mut self, graph: &mut GraphProto, outer: Option<&Facts>, depth: usize) -> Result<()> {
        if depth > crate::model::check::MAX_GRAPH_DEPTH {
            return Err(Error::TooDeep);
        }
        let facts = ops::facts_for(graph, outer, &self.functions, self.options);
        for node in &mut graph.node {
            // Before its body: what stops the model is the Loop itself.
            refuse_loop(node)?;
            for attr in &mut node.attribute {
                for sub in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                    self.graph(sub, Some(&facts), depth + 1)?;
                }
            }
            self.node(node, &facts)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &mut NodeProto, facts: &Facts) -> Result<()> {
        let label = || NodeLabel::of(node);
        let class = ops::classify(node, &self.functions, self.options);
        if let NodeClass::CustomOp(_) = class {
            match self.kernels {
                Kernels::Native | Kernels::Reference | Kernels::Working => {
                    let parsed = ops::parse(node, facts).map_err(crate::Error::from)?;
                    if parsed.dtype == FloatType::BF16 {
                        return Err(Error::Bfloat16 { node: label() });
                    }
                    node.op_type = Some(kernels::op_key(parsed.kind).to_owned());
                    self.native += 1;
                    return Ok(());
                }
                Kernels::Plain => return Err(Error::AconInConverted { node: label() }),
            }
        }
        if self.kernels == Kernels::Plain && is_swish(node) {
            let alpha = swish_alpha(node)?;
            if alpha != 1.0 {
                return Err(Error::SwishAlpha {
                    node: label(),
                    alpha,
                });
            }
        }
        if class == NodeClass::Function {
            return Err(Error::FunctionLeft { node: label() });
        }
        if !self.framework.op_register.0.contains_key(node.op_type()) {
            return Err(Error::NotImplemented {
                node: label(),
                looks_like_acon: matches!(class, NodeClass::Foreign(_)),
            });
        }
        Ok(())
    }
}
