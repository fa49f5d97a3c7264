//! Rewrites of a loaded model, one file each, run in order by a
//! [`Pipeline`]. Every pass has a stable kebab-case name used in logs, errors
//! and `--skip-pass`. A pass either changes the model and says so, or leaves
//! it untouched; after each one the graph is checked for consistency in
//! tests and debug builds.

mod arrange;
mod decompose_acon;
pub mod emit;
mod inline_functions;
mod opset_adapt;
mod prune_opsets;
mod recognise;
mod swish;
mod unused;

use std::collections::BTreeMap;

pub use decompose_acon::DecomposeAcon;
pub use inline_functions::InlineFunctions;
pub use prune_opsets::PruneAconOpsets;
pub use recognise::{RecogniseAcon, Target, module_of};
pub use swish::{SwishAsAcon, alpha as swish_alpha, is_swish};
// Model facts, re-exported where the passes have always found them.

use crate::error::Error;
use crate::model::check::check_model;
use crate::ops::DEFAULT_ACON_DOMAIN;
use crate::proto::ModelProto;

/// What the user asked of a conversion.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Domains whose nodes are ACON ops; `acon` is always among them.
    pub acon_domains: Vec<String>,
    /// Names of passes not to run.
    pub skip_passes: Vec<String>,
    /// Check the graph after every pass even in release builds.
    pub check_each_pass: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            acon_domains: vec![DEFAULT_ACON_DOMAIN.to_owned()],
            skip_passes: vec![],
            check_each_pass: cfg!(debug_assertions),
        }
    }
}

impl ConvertOptions {
    /// The default domain plus `extra`.
    pub fn with_domains(extra: impl IntoIterator<Item = String>) -> Self {
        let mut options = ConvertOptions::default();
        for d in extra {
            if !options.acon_domains.contains(&d) {
                options.acon_domains.push(d);
            }
        }
        options
    }

    pub fn is_acon_domain(&self, domain: &str) -> bool {
        self.acon_domains.iter().any(|d| d == domain)
    }
}

/// What a conversion did.
#[derive(Debug, Clone, Default)]
pub struct ConvertReport {
    /// ACON nodes rewritten, by op type.
    pub rewritten: BTreeMap<String, usize>,
    /// Calls to model-local functions inlined, by `domain::name`.
    pub inlined: BTreeMap<String, usize>,
    /// Standard nodes emitted in their place.
    pub nodes_added: usize,
    /// Passes that changed the model, in run order.
    pub changed_by: Vec<&'static str>,
    /// Blocks of standard ops recognised as ACON activations, in graph order
    /// (subgraphs first).
    pub recognised: Vec<RecognisedBlock>,
    /// Things left alone that the user should know of.
    pub warnings: Vec<Warning>,
}

/// Something a conversion left alone that the user should know of. The
/// message says what and why; it names no flag (the command line adds which
/// one acts on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A node of an ACON op type in a domain not named as an ACON domain,
    /// left as it is.
    ForeignAcon {
        node: String,
        domain: String,
        op_type: String,
    },
}

impl Warning {
    /// What was left alone, without the advice.
    pub fn what(&self) -> String {
        match self {
            Warning::ForeignAcon {
                node,
                domain,
                op_type,
            } => format!(
                "node `{node}` ({domain}::{op_type}) looks like an ACON op but its domain is \
                 not an ACON domain; it was left alone"
            ),
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::ForeignAcon { domain, .. } => write!(
                f,
                "{} (name `{domain}` as an ACON domain to convert it)",
                self.what()
            ),
        }
    }
}

/// One block `recognise-acon` found and rewrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecognisedBlock {
    /// The ACON op it computes (`MetaAconC`, …).
    pub op_type: &'static str,
    /// The node that wrote its output, after which new nodes are named.
    pub node: String,
    pub output: String,
    /// The PyTorch module, from the exporter's metadata, when it says.
    pub module: Option<String>,
    /// The graph it is in (a subgraph's own name).
    pub graph: String,
    /// False for a block left as it was: ACON-A's pattern is already the
    /// standard arrangement.
    pub rewritten: bool,
}

impl ConvertReport {
    pub fn rewritten_total(&self) -> usize {
        self.rewritten.values().sum()
    }

    /// Recognised blocks by op type.
    pub fn recognised_by_op(&self) -> BTreeMap<&'static str, usize> {
        let mut by_op = BTreeMap::new();
        for b in &self.recognised {
            *by_op.entry(b.op_type).or_default() += 1;
        }
        by_op
    }
}

/// State shared by the passes of one run.
pub struct PassContext<'a> {
    pub options: &'a ConvertOptions,
    pub report: ConvertReport,
}

/// One rewrite of the model.
pub trait Pass {
    /// The stable kebab-case name.
    fn name(&self) -> &'static str;
    /// Rewrites `model`; `Ok(false)` when the pass does not apply.
    fn run(&self, model: &mut ModelProto, cx: &mut PassContext) -> Result<bool, Error>;
}

/// Passes run in order.
pub struct Pipeline {
    passes: Vec<Box<dyn Pass>>,
}

impl Pipeline {
    /// The conversion: model-local functions are inlined, ONNX `Swish`
    /// becomes the AconA it is, ACON blocks of standard ops are rearranged,
    /// ACON ops become standard ops, then imports are tidied.
    pub fn convert() -> Pipeline {
        Pipeline {
            passes: vec![
                Box::new(InlineFunctions),
                Box::new(SwishAsAcon),
                Box::new(RecogniseAcon {
                    target: Target::Standard,
                }),
                Box::new(DecomposeAcon),
                Box::new(PruneAconOpsets),
            ],
        }
    }

    /// `convert --to acon`: every ACON activation, whatever its form, as an
    /// `acon`-domain custom-op node. Converting the result again gives
    /// standard ops.
    pub fn to_acon() -> Pipeline {
        Pipeline {
            passes: vec![
                Box::new(InlineFunctions),
                Box::new(SwishAsAcon),
                Box::new(RecogniseAcon {
                    target: Target::Acon,
                }),
            ],
        }
    }

    /// Recognition alone, to custom-op nodes (what `inspect` reports).
    pub fn recognise() -> Pipeline {
        Pipeline {
            passes: vec![Box::new(RecogniseAcon {
                target: Target::Acon,
            })],
        }
    }

    /// What tract needs before it can load a model: model-local functions
    /// inlined (tract never reads them), and `Swish` made an AconA node
    /// (tract's own Swish ignores alpha). ACON custom ops are kept.
    pub fn inline() -> Pipeline {
        Pipeline {
            passes: vec![Box::new(InlineFunctions), Box::new(SwishAsAcon)],
        }
    }

    /// Before tract runs a model on the native kernels: functions inlined
    /// and ACON blocks of standard ops made custom-op nodes, so that every
    /// ACON activation runs on a kernel.
    pub fn native() -> Pipeline {
        Pipeline::to_acon()
    }

    pub fn pass_names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    pub fn run(
        &self,
        model: &mut ModelProto,
        options: &ConvertOptions,
    ) -> Result<ConvertReport, Error> {
        for skipped in &options.skip_passes {
            if !self.pass_names().contains(&skipped.as_str()) {
                return Err(Error::Unsupported(format!(
                    "unknown pass `{skipped}` (passes: {})",
                    self.pass_names().join(", ")
                )));
            }
        }
        check_model(model)?;
        crate::ops::check_acon_imports(model, options)?;
        let mut cx = PassContext {
            options,
            report: ConvertReport::default(),
        };
        for pass in &self.passes {
            if options.skip_passes.iter().any(|s| s == pass.name()) {
                continue;
            }
            let changed = pass
                .run(model, &mut cx)
                .map_err(|e| e.in_pass(pass.name()))?;
            if changed {
                cx.report.changed_by.push(pass.name());
                if options.check_each_pass {
                    check_model(model).map_err(|e| e.in_pass(pass.name()))?;
                }
            }
        }
        Ok(cx.report)
    }
}
