//! The versions of the ACON op set this tool knows, and the check that a
//! model imports no other. The spec defines version 1 only; a model that
//! imports an ACON domain at another version asks for ops whose contract
//! nobody wrote, so it is refused instead of being read as version 1.

use crate::error::Error;
use crate::passes::ConvertOptions;
use crate::proto::{ModelProto, OperatorSetIdProto};

/// The ACON op set versions defined by the spec.
pub const KNOWN_VERSIONS: &[i64] = &[1];

/// Refuses a model (or one of its functions) that imports an ACON domain
/// (`acon` and every `--acon-domain`) at a version the spec does not define.
pub fn check_acon_imports(model: &ModelProto, options: &ConvertOptions) -> Result<(), Error> {
    let check = |imports: &[OperatorSetIdProto], owner: &str| {
        for import in imports {
            if options.is_acon_domain(import.domain())
                && !KNOWN_VERSIONS.contains(&import.version())
            {
                return Err(Error::AconVersion {
                    domain: import.domain().to_owned(),
                    version: import.version(),
                    owner: owner.to_owned(),
                    known: KNOWN_VERSIONS,
                });
            }
        }
        Ok(())
    };
    check(&model.opset_import, "the model")?;
    for f in &model.functions {
        check(
            &f.opset_import,
            &format!("function `{}::{}`", f.domain(), f.name()),
        )?;
    }
    Ok(())
}
