//! Loading and atomically saving models, with their external data.
//!
//! `load` maps the file and decodes it with prost, so every embedded
//! `raw_data` is a slice of the mapping; external tensors become slices of
//! their mapped data files (see `external` and `mapped`).
//!
//! `save` streams prost's encoding through a small buffer into a temporary
//! file beside the destination and renames it (`atomic`). With external data it first
//! writes the data file the same way, and renames it just before the model,
//! so a model is never visible without its data and a failed save leaves
//! neither file behind. Data goes where [`ExternalData`] says: embedded,
//! by a size threshold into one file, or, as `convert` does by default, each
//! tensor where it was loaded from (`model::origins`).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use prost::Message;

use crate::error::Error;
use crate::model::atomic::{persist, temp_beside, write_atomically};
use crate::model::external::{self, ExternalSources};
use crate::model::mapped;
use crate::model::origins::{self, Origins};
use crate::model::paths::{parent_dir, same_file};
use crate::model::sink::StreamingSink;
use crate::proto::ModelProto;

/// Protobuf cannot encode or parse a message of 2 GiB or more; past this
/// size a model's tensor data must go to an external file.
pub const MAX_PROTO_SIZE: u64 = i32::MAX as u64;

/// The default `size_threshold`: tensors of at least this many bytes go to
/// the external file (the onnx package's default).
pub const DEFAULT_SIZE_THRESHOLD: u64 = 1024;

/// Reads and decodes a model, and its external data. Weights stay slices of
/// the file's buffer or of the mapped data files.
pub fn load(path: &Path) -> Result<ModelProto, Error> {
    load_with_sources(path).map(|(model, _)| model)
}

/// `load`, also saying which external files the tensors were read from.
pub fn load_with_sources(path: &Path) -> Result<(ModelProto, ExternalSources), Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot read", e))?;
    if meta.is_dir() {
        return Err(Error::Load {
            path: path.to_owned(),
            reason: "is a directory, not an ONNX file".into(),
        });
    }
    if !meta.is_file() {
        // A device or a pipe may never end (think /dev/zero): not a model.
        return Err(Error::Load {
            path: path.to_owned(),
            reason: "is not a regular file".into(),
        });
    }
    if meta.len() > MAX_PROTO_SIZE {
        return Err(Error::Load {
            path: path.to_owned(),
            reason: format!(
                "is {} bytes, past protobuf's limit of {MAX_PROTO_SIZE}: an ONNX file this \
                 large must keep its weights in external data",
                meta.len()
            ),
        });
    }
    let data = if meta.len() > 0 {
        let file = File::open(path).map_err(|e| Error::io(path, "cannot read", e))?;
        mapped::map_file(file).map_err(|e| Error::io(path, "cannot map", e))?
    } else {
        Bytes::new()
    };
    let mut model = load_bytes(path, data)?;
    let sources = external::resolve(&mut model, path)?;
    Ok((model, sources))
}

/// Decodes a model already in memory; `path` is only used in messages.
/// External tensors are left unresolved: there is no directory to find them.
pub fn load_bytes(path: &Path, data: Bytes) -> Result<ModelProto, Error> {
    if data.is_empty() {
        return Err(Error::Load {
            path: path.to_owned(),
            reason: "the file is empty".into(),
        });
    }
    let model = ModelProto::decode(data).map_err(|e| Error::Load {
        path: path.to_owned(),
        reason: decode_problem(&e),
    })?;
    if model.graph.is_none() {
        return Err(Error::Load {
            path: path.to_owned(),
            reason: "the model has no graph".into(),
        });
    }
    Ok(model)
}

/// prost's message, shortened where it repeats the whole message path
/// (nesting past its recursion limit names every level).
fn decode_problem(e: &prost::DecodeError) -> String {
    let text = e.to_string();
    if text.contains("recursion limit reached") {
        "not a valid ONNX protobuf: messages nest deeper than 100 levels (recursion limit \
         reached)"
            .into()
    } else {
        format!("not a valid ONNX protobuf: {text}")
    }
}

/// Where `save` puts tensor data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ExternalData {
    /// Embedded, unless the model would pass `max_proto_size`: then as
    /// `File(None)`.
    #[default]
    Auto,
    /// Always embedded; a model past `max_proto_size` is an error.
    Never,
    /// Initializers of at least `size_threshold` bytes go to this file,
    /// relative to the destination's directory (a plain relative path, no
    /// `..`); `None` means `<destination file name>.data`.
    File(Option<String>),
    /// Every tensor where it was when loaded (`SaveOptions::origins`):
    /// external ones back in a data file of the same relative location, in
    /// the same offset order, everything else embedded (see
    /// `model::origins`). A data file that would replace one of `inputs`
    /// becomes `<destination file name>.data` instead. Without origins, as
    /// `Auto`.
    AsLoaded,
}

/// How `save` writes a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveOptions {
    /// Replace existing files at the destination (model and data file).
    pub overwrite: bool,
    /// Where tensor data goes.
    pub external: ExternalData,
    /// With external data, initializers of at least this many bytes go to
    /// the data file.
    pub size_threshold: u64,
    /// The largest model protobuf written; `MAX_PROTO_SIZE` except in tests,
    /// which lower it to take the automatic path with a small model.
    pub max_proto_size: u64,
    /// Files the save must never replace: the input model and the external
    /// files it was read from.
    pub inputs: Vec<PathBuf>,
    /// Where the loaded tensors were, for `ExternalData::AsLoaded`.
    pub origins: Origins,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            overwrite: false,
            external: ExternalData::Auto,
            size_threshold: DEFAULT_SIZE_THRESHOLD,
            max_proto_size: MAX_PROTO_SIZE,
            inputs: vec![],
            origins: Origins::default(),
        }
    }
}

/// What `save_with_report` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// The size of the model file.
    pub model_bytes: u64,
    /// The external data file, when one was written.
    pub data_file: Option<PathBuf>,
    /// How many tensors went to the data file.
    pub external_tensors: usize,
    /// The data file's size, alignment gaps included.
    pub data_bytes: u64,
    /// True when the data went external only because the model would have
    /// passed `max_proto_size`.
    pub automatic: bool,
}

/// Writes `model` to `path` atomically: a temporary file in the destination's
/// directory, then a rename. On any failure the temporary file is removed and
/// the destination is untouched.
pub fn save(model: &ModelProto, path: &Path, options: SaveOptions) -> Result<(), Error> {
    save_with_report(model, path, &options).map(|_| ())
}

/// `save`, saying where the data went.
pub fn save_with_report(
    model: &ModelProto,
    path: &Path,
    options: &SaveOptions,
) -> Result<Saved, Error> {
    let refuse = |reason: String| Error::Save {
        path: path.to_owned(),
        reason,
    };
    check_destination(path, options)?;
    let dir = parent_dir(path);
    if options.external == ExternalData::AsLoaded && !options.origins.is_empty() {
        return save_as_loaded(model, path, &dir, options);
    }
    let embedded_len = model.encoded_len() as u64;
    let (location, automatic) = match &options.external {
        ExternalData::Never if embedded_len > options.max_proto_size => {
            return Err(Error::TooLarge {
                path: path.to_owned(),
                bytes: embedded_len,
                limit: options.max_proto_size,
            });
        }
        ExternalData::Never => (None, false),
        ExternalData::Auto | ExternalData::AsLoaded if embedded_len <= options.max_proto_size => {
            (None, false)
        }
        ExternalData::Auto | ExternalData::AsLoaded | ExternalData::File(None) => {
            let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                refuse("the file name is not valid UTF-8, so it cannot name its data file".into())
            })?;
            (
                Some(format!("{name}.data")),
                options.external != ExternalData::File(None),
            )
        }
        ExternalData::File(Some(location)) => {
            let parts = external::normalise(location).map_err(|problem| {
                refuse(format!("the external data file `{location}` {problem}"))
            })?;
            (Some(parts.join("/")), false)
        }
    };
    let Some(location) = location else {
        write_atomically(path, options.overwrite, |f| {
            write_streaming(model, embedded_len, f)
        })?;
        return Ok(Saved {
            model_bytes: embedded_len,
            ..Saved::default()
        });
    };

    // Weights are `Bytes`, so this copy shares them; only the structure is
    // duplicated.
    let mut out = model.clone();
    let layout = external::externalize(&mut out, &location, options.size_threshold);
    let model_bytes = out.encoded_len() as u64;
    if model_bytes > options.max_proto_size {
        return Err(refuse(format!(
            "even with initializers of {} bytes or more in `{location}`, the model would take \
             {model_bytes} bytes, past protobuf's limit of {} bytes",
            options.size_threshold, options.max_proto_size
        )));
    }
    if layout.tensors.is_empty() {
        // No tensor is large enough: no data file.
        write_atomically(path, options.overwrite, |f| {
            write_streaming(&out, model_bytes, f)
        })?;
        return Ok(Saved {
            model_bytes,
            automatic,
            ..Saved::default()
        });
    }
    let data_path = dir.join(&location);
    if same_file(&data_path, path) {
        return Err(refuse(format!(
            "the external data file `{location}` would be the model file itself"
        )));
    }
    check_destination(&data_path, options)?;
    let data_tmp = temp_beside(&data_path, |f| {
        reserve(f, layout.len)?;
        external::write_data(&layout, f)
    })?;
    let model_tmp = temp_beside(path, |f| write_streaming(&out, model_bytes, f))?;
    // Data first: a model file never points at a data file not yet there.
    persist(data_tmp, &data_path, options.overwrite)?;
    if let Err(e) = persist(model_tmp, path, options.overwrite) {
        // The data file is ours alone (just created, or replaced under
        // `overwrite`); without its model it is litter.
        let _ = std::fs::remove_file(&data_path);
        return Err(e);
    }
    Ok(Saved {
        model_bytes,
        data_file: Some(data_path),
        external_tensors: layout.tensors.len(),
        data_bytes: layout.len,
        automatic,
    })
}

/// `ExternalData::AsLoaded` with origins: each tensor back where it was (see
/// `model::origins`), the data files written before the model.
fn save_as_loaded(
    model: &ModelProto,
    path: &Path,
    dir: &Path,
    options: &SaveOptions,
) -> Result<Saved, Error> {
    let refuse = |reason: String| Error::Save {
        path: path.to_owned(),
        reason,
    };
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        refuse("the file name is not valid UTF-8, so it cannot name its data file".into())
    })?;
    // The same relative location, unless that file is an input (the output
    // beside the input): then one named after the output.
    let mut rename = HashMap::new();
    let mut taken: Vec<PathBuf> = vec![];
    for location in options.origins.locations() {
        let mut candidate = location.clone();
        let mut n = 0;
        loop {
            let at = dir.join(&candidate);
            let clashes = options.inputs.iter().any(|i| same_file(i, &at))
                || same_file(&at, path)
                || taken.iter().any(|t| same_file(t, &at));
            if !clashes {
                taken.push(at);
                break;
            }
            n += 1;
            candidate = if n == 1 {
                format!("{name}.data")
            } else {
                format!("{name}.{n}.data")
            };
        }
        rename.insert(location, candidate);
    }
    let mut out = model.clone();
    let files = origins::restore(&mut out, &options.origins, &rename);
    let model_bytes = out.encoded_len() as u64;
    if model_bytes > options.max_proto_size {
        return Err(Error::TooLargeAsLoaded {
            path: path.to_owned(),
            bytes: model_bytes,
            limit: options.max_proto_size,
        });
    }
    let mut written = vec![];
    for file in &files {
        let data_path = dir.join(&file.location);
        check_destination(&data_path, options)?;
        let tmp = temp_beside(&data_path, |f| {
            reserve(f, file.layout.len)?;
            external::write_data(&file.layout, f)
        })?;
        written.push((tmp, data_path));
    }
    let model_tmp = temp_beside(path, |f| write_streaming(&out, model_bytes, f))?;
    let mut persisted: Vec<PathBuf> = vec![];
    let cleanup = |persisted: &[PathBuf]| {
        // Our data files alone; without their model they are litter.
        for p in persisted {
            let _ = std::fs::remove_file(p);
        }
    };
    for (tmp, data_path) in written {
        if let Err(e) = persist(tmp, &data_path, options.overwrite) {
            cleanup(&persisted);
            return Err(e);
        }
        persisted.push(data_path);
    }
    if let Err(e) = persist(model_tmp, path, options.overwrite) {
        cleanup(&persisted);
        return Err(e);
    }
    Ok(Saved {
        model_bytes,
        data_file: persisted.first().cloned(),
        external_tensors: files.iter().map(|f| f.layout.tensors.len()).sum(),
        data_bytes: files.iter().map(|f| f.layout.len).sum(),
        automatic: false,
    })
}

/// Refuses a destination that exists (without `overwrite`), is one of the
/// inputs, or lies in a missing directory.
pub fn check_destination(path: &Path, options: &SaveOptions) -> Result<(), Error> {
    let refuse = |reason: String| Error::Save {
        path: path.to_owned(),
        reason,
    };
    if let Some(input) = options.inputs.iter().find(|i| same_file(i, path)) {
        return Err(refuse(format!(
            "it would replace the input `{}`; choose another path",
            input.display()
        )));
    }
    match std::fs::symlink_metadata(path) {
        // Only a regular file is ever replaced: renaming over a device, a
        // pipe or a directory entry the user did not mean is refused.
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(refuse(
                "it exists and is not a regular file; choose another path".into(),
            ));
        }
        Ok(_) if !options.overwrite => {
            return Err(Error::Exists {
                path: path.to_owned(),
            });
        }
        _ => {}
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(refuse(format!(
            "the directory `{}` does not exist",
            dir.display()
        )));
    }
    Ok(())
}

/// Encodes with prost straight into `file` (new and empty) through a fixed
/// buffer, after reserving the `len` bytes it will take (`encoded_len`).
fn write_streaming(model: &ModelProto, len: u64, file: &mut File) -> io::Result<()> {
    reserve(file, len)?;
    let mut sink = StreamingSink::new(file);
    model.encode_raw(&mut sink);
    sink.finish().map(|_| ())
}

/// Reserves `len` bytes of disk for `file` without changing its size
/// (`fallocate` with `FALLOC_FL_KEEP_SIZE`). A full disk is then reported
/// before anything is written, and ext4 writes into allocated extents rather
/// than reserving blocks page by page (`benches/copy_routes.py` times it). A
/// file system that cannot preallocate is simply written.
#[cfg(target_os = "linux")]
fn reserve(file: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let Ok(len) = libc::off_t::try_from(len) else {
        return Ok(());
    };
    if len == 0 {
        return Ok(());
    }
    // SAFETY: `fallocate` takes a descriptor, which `file` keeps open for the
    // call, and integers; it touches no memory of ours.
    let status = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, len) };
    if status == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL | libc::ENODEV | libc::ESPIPE) => {
            Ok(())
        }
        _ => Err(error),
    }
}

#[cfg(not(target_os = "linux"))]
fn reserve(_file: &File, _len: u64) -> io::Result<()> {
    Ok(())
}
