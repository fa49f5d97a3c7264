//! The opsets a model imports: which domain names mean the default ONNX
//! domain, and which version of it the model uses.

use crate::proto::ModelProto;

/// The version of the default ONNX domain the model imports.
pub fn default_opset(model: &ModelProto) -> Option<i64> {
    model
        .opset_import
        .iter()
        .filter(|o| is_default_domain(o.domain()))
        .map(|o| o.version())
        .max()
}

/// True for the default ONNX domain, spelled `""` or `ai.onnx`.
pub fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}
