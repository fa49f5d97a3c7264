//! Loading and atomically saving models, with their external data.
//!
//! `load` maps the file and decodes it with prost, so every embedded
//! `raw_data` is a slice of the mapping; external tensors become slices of
//! their mapped data files (see `external` and `mapped`).
//!
//! `save` streams prost's encoding through a small buffer into a temporary
//! file beside the destination and renames it. With external data it first
//! writes the data file the same way, and renames it just before the model,
//! so a model is never visible without its data and a failed save leaves
//! neither file behind.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes, buf::UninitSlice};
use prost::Message;

use crate::error::Error;
use crate::model::external::{self, ExternalSources};
use crate::model::mapped;
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
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            overwrite: false,
            external: ExternalData::Auto,
            size_threshold: DEFAULT_SIZE_THRESHOLD,
            max_proto_size: MAX_PROTO_SIZE,
            inputs: vec![],
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
    let embedded_len = model.encoded_len() as u64;
    let (location, automatic) = match &options.external {
        ExternalData::Never if embedded_len > options.max_proto_size => {
            return Err(refuse(format!(
                "the model would take {embedded_len} bytes, past protobuf's limit of {} \
                 bytes; drop --no-external-data to write its tensor data to an external file",
                options.max_proto_size
            )));
        }
        ExternalData::Never => (None, false),
        ExternalData::Auto if embedded_len <= options.max_proto_size => (None, false),
        ExternalData::Auto | ExternalData::File(None) => {
            let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                refuse("the file name is not valid UTF-8, so it cannot name its data file".into())
            })?;
            (
                Some(format!("{name}.data")),
                options.external == ExternalData::Auto,
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
        write_atomically(path, &dir, options.overwrite, |f| write_streaming(model, f))?;
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
        write_atomically(path, &dir, options.overwrite, |f| write_streaming(&out, f))?;
        return Ok(Saved {
            model_bytes,
            automatic,
            ..Saved::default()
        });
    }
    let data_path = dir.join(&location);
    if crate::same_file(&data_path, path) {
        return Err(refuse(format!(
            "the external data file `{location}` would be the model file itself"
        )));
    }
    check_destination(&data_path, options)?;
    let data_dir = parent_dir(&data_path);
    let data_tmp = write_temp(&data_path, &data_dir, |f| {
        let mut w = BufWriter::with_capacity(SINK_CAPACITY, f);
        external::write_data(&layout, &mut w)
    })?;
    let model_tmp = write_temp(path, &dir, |f| write_streaming(&out, f))?;
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

/// Refuses a destination that exists (without `overwrite`), is one of the
/// inputs, or lies in a missing directory.
fn check_destination(path: &Path, options: &SaveOptions) -> Result<(), Error> {
    let refuse = |reason: String| Error::Save {
        path: path.to_owned(),
        reason,
    };
    if let Some(input) = options.inputs.iter().find(|i| crate::same_file(i, path)) {
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
            return Err(refuse("the file exists (use --force to replace it)".into()));
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

/// A temporary file in `dir` holding what `write` wrote; removed when dropped
/// unpersisted.
fn write_temp(
    path: &Path,
    dir: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<tempfile::NamedTempFile, Error> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".acon-onnx-").suffix(".tmp");
    // A temporary file is private (0600) by default; the file it becomes
    // gets the usual 0666 less the umask, as any file the user writes.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, "cannot create a temporary file beside", e))?;
    write(tmp.as_file_mut()).map_err(|e| Error::io(path, "cannot write", e))?;
    Ok(tmp)
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path, overwrite: bool) -> Result<(), Error> {
    let persisted = if overwrite {
        tmp.persist(path).map(|_| ())
    } else {
        // Refuses to replace a file that appeared since the check.
        tmp.persist_noclobber(path).map(|_| ())
    };
    persisted.map_err(|e| Error::io(path, "cannot move the written file to", e.error))
}

fn write_atomically(
    path: &Path,
    dir: &Path,
    overwrite: bool,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), Error> {
    persist(write_temp(path, dir, write)?, path, overwrite)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Encodes with prost straight into `file` through a fixed buffer.
fn write_streaming(model: &ModelProto, file: &mut File) -> io::Result<()> {
    let mut sink = StreamingSink::new(file);
    model.encode_raw(&mut sink);
    sink.finish()
}

/// A `BufMut` that forwards to a writer through a fixed buffer, so encoding a
/// large model needs no buffer the size of the model. Large slices (weights)
/// bypass the buffer. The first I/O error is kept and later writes dropped.
struct StreamingSink<'w, W: WriteBytes> {
    out: &'w mut W,
    buf: Vec<u8>,
    error: Option<io::Error>,
}

const SINK_CAPACITY: usize = 1 << 20;

/// A writer that can take a slice of a loaded file by other means than
/// copying it through memory.
trait WriteBytes: Write {
    fn write_bytes(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data)
    }
}

impl WriteBytes for File {
    fn write_bytes(&mut self, data: &[u8]) -> io::Result<()> {
        mapped::write_bytes(self, data)
    }
}

impl WriteBytes for Vec<u8> {}

impl<'w, W: WriteBytes> StreamingSink<'w, W> {
    fn new(out: &'w mut W) -> Self {
        StreamingSink {
            out,
            buf: Vec::with_capacity(SINK_CAPACITY),
            error: None,
        }
    }

    fn write_direct(&mut self, data: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.out.write_bytes(data)
        {
            self.error = Some(e);
        }
    }

    fn flush_buf(&mut self) {
        if !self.buf.is_empty() {
            if self.error.is_none()
                && let Err(e) = self.out.write_all(&self.buf)
            {
                self.error = Some(e);
            }
            self.buf.clear();
        }
    }

    fn finish(mut self) -> io::Result<()> {
        self.flush_buf();
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

// SAFETY: `chunk_mut` hands out exactly the vector's spare capacity, and
// `advance_mut` only extends the length over bytes the caller initialised
// there, as the trait requires of it.
unsafe impl<W: WriteBytes> BufMut for StreamingSink<'_, W> {
    fn remaining_mut(&self) -> usize {
        usize::MAX - self.buf.len()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        let len = self.buf.len() + cnt;
        assert!(len <= self.buf.capacity(), "advance_mut past the chunk");
        // SAFETY: the caller initialised `cnt` bytes of the spare capacity.
        unsafe { self.buf.set_len(len) };
        if self.buf.len() == self.buf.capacity() {
            self.flush_buf();
        }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        if self.buf.len() == self.buf.capacity() {
            self.flush_buf();
        }
        UninitSlice::uninit(self.buf.spare_capacity_mut())
    }

    // prost writes `bytes` fields through `put`, whose default copies chunk
    // by chunk into `chunk_mut`; hand each contiguous chunk to `put_slice`
    // instead, so that weights can take the direct path.
    fn put<T: bytes::Buf>(&mut self, mut src: T)
    where
        Self: Sized,
    {
        while src.has_remaining() {
            let chunk = src.chunk();
            let n = chunk.len();
            self.put_slice(chunk);
            src.advance(n);
        }
    }

    fn put_slice(&mut self, src: &[u8]) {
        if src.len() >= mapped::KERNEL_COPY_MIN {
            // Weights: from their file when they have one, else unbuffered.
            self.flush_buf();
            self.write_direct(src);
        } else if src.len() <= self.buf.capacity() - self.buf.len() {
            self.buf.extend_from_slice(src);
        } else {
            self.flush_buf();
            if src.len() >= SINK_CAPACITY {
                self.write_direct(src);
            } else {
                self.buf.extend_from_slice(src);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{GraphProto, TensorProto};

    #[test]
    fn streaming_encoding_matches_prost() {
        let big = Bytes::from(vec![7u8; 3 * SINK_CAPACITY + 5]);
        let tensor = |name: &str, raw: Bytes| TensorProto {
            name: Some(name.into()),
            raw_data: Some(raw),
            dims: vec![raw_len(&big)],
            data_type: Some(2),
            ..Default::default()
        };
        let model = ModelProto {
            ir_version: Some(8),
            producer_name: Some("test".into()),
            graph: Some(GraphProto {
                initializer: vec![
                    tensor("a", Bytes::from_static(&[1, 2, 3])),
                    tensor("b", big.clone()),
                    tensor("c", Bytes::from_static(&[4])),
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut streamed = Vec::new();
        write_streaming_to(&model, &mut streamed).unwrap();
        assert_eq!(streamed, model.encode_to_vec());
    }

    fn raw_len(b: &Bytes) -> i64 {
        b.len() as i64
    }

    fn write_streaming_to(model: &ModelProto, out: &mut Vec<u8>) -> io::Result<()> {
        let mut sink = StreamingSink::new(out);
        model.encode_raw(&mut sink);
        sink.finish()
    }
}
