//! NumPy `.npy` and `.npz` files as tract tensors.
//!
//! `.npy` is encoded and decoded here directly (the format is a short text
//! header, parsed by ndarray-npy, and raw data), so that every type tract
//! has, float16 included, round-trips. An `.npz` is a zip of `.npy` members:
//! ndarray-npy's writer stores them, and the reader here takes the
//! uncompressed archives numpy's `savez` writes. Files are written
//! atomically by `model::atomic`, as every file the tool writes.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use ndarray_npy::npy::header::{Header, ReadHeaderError};
use ndarray_npy::{NpzWriter, WriteNpyError, WriteNpyExt};
use tract_onnx::prelude::*;

use crate::model::atomic;
use crate::tract::error::{Error, Result};

/// A NumPy file that cannot be read or written. `what` names the file, or
/// an archive's array.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// A tensor type `.npy` has no code for.
    #[error("a {dtype} tensor cannot be stored in a .npy file")]
    Unstorable { dtype: String },

    /// A shape whose header would pass the format's 64 KiB.
    #[error("the .npy header is too long")]
    HeaderTooLong,

    /// No `.npy` header.
    #[error("{what}: not a .npy file")]
    NotNpy {
        what: String,
        #[source]
        source: ReadHeaderError,
    },

    /// A numpy type tract has no type for.
    #[error("{what}: numpy type {descr} is not supported (use float, int or bool arrays)")]
    Type { what: String, descr: String },

    /// The data after the header cannot be read.
    #[error("{what}: cannot read the data")]
    Read {
        what: String,
        #[source]
        source: io::Error,
    },

    /// Data of another size than the header's shape.
    #[error("{what}: holds {bytes} bytes of data, expected {expected} for shape {shape:?}")]
    Size {
        what: String,
        bytes: usize,
        expected: usize,
        shape: Vec<usize>,
    },

    /// A bool array with bytes other than 0 and 1.
    #[error("{what}: a bool array holds values other than 0 and 1")]
    NotBool { what: String },

    /// Not a zip archive this reader takes.
    #[error("{what}: not a .npz archive")]
    NotNpz {
        what: String,
        #[source]
        source: ZipError,
    },

    /// A tensor that cannot be encoded (`array`: its name in an archive).
    #[error(
        "cannot write `{}`{}",
        path.display(),
        array.as_ref().map(|a| format!(": array `{a}`")).unwrap_or_default()
    )]
    Write {
        path: std::path::PathBuf,
        array: Option<String>,
        #[source]
        source: Box<Error>,
    },
}

/// What is wrong with an `.npz` archive's zip structure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZipError {
    /// The bytes end inside a record or a name (`inside`).
    #[error("the archive ends inside {inside}")]
    Truncated { inside: &'static str },
    #[error("no end of central directory record")]
    NoEnd,
    #[error("bad zip64 end of central directory record")]
    BadZip64End,
    #[error("bad central directory entry at byte {at}")]
    BadEntry { at: usize },
    #[error(
        "member `{member}` is compressed; only uncompressed archives (numpy's savez, not \
         savez_compressed) are read"
    )]
    Compressed { member: String },
    #[error("member `{member}` is stored with two different sizes")]
    TwoSizes { member: String },
    #[error("bad local header for member `{member}`")]
    BadLocalHeader { member: String },
    #[error("member `{member}` runs past the end of the archive")]
    PastEnd { member: String },
}

/// The numpy type string of a tract type, little-endian.
fn descr(dt: DatumType) -> Result<&'static str> {
    Ok(match dt {
        DatumType::Bool => "|b1",
        DatumType::U8 => "|u1",
        DatumType::I8 => "|i1",
        DatumType::U16 => "<u2",
        DatumType::I16 => "<i2",
        DatumType::U32 => "<u4",
        DatumType::I32 => "<i4",
        DatumType::U64 => "<u8",
        DatumType::I64 => "<i8",
        DatumType::F16 => "<f2",
        DatumType::F32 => "<f4",
        DatumType::F64 => "<f8",
        other => {
            return Err(NpyError::Unstorable {
                dtype: format!("{other:?}"),
            }
            .into());
        }
    })
}

/// The tract type of a numpy type string and whether it is big-endian.
fn datum_of(descr: &str) -> Option<(DatumType, bool)> {
    let (order, code) = descr.split_at(1.min(descr.len()));
    let big = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => return None,
    };
    let dt = match code {
        "b1" => DatumType::Bool,
        "u1" => DatumType::U8,
        "i1" => DatumType::I8,
        "u2" => DatumType::U16,
        "i2" => DatumType::I16,
        "u4" => DatumType::U32,
        "i4" => DatumType::I32,
        "u8" => DatumType::U64,
        "i8" => DatumType::I64,
        "f2" => DatumType::F16,
        "f4" => DatumType::F32,
        "f8" => DatumType::F64,
        _ => return None,
    };
    Some((dt, big))
}

/// The bytes of `t` as a version 1.0 `.npy` file.
pub fn encode_npy(t: &Tensor) -> Result<Vec<u8>> {
    let descr = descr(t.datum_type())?;
    let shape = match t.shape() {
        [] => "()".to_owned(),
        [d] => format!("({d},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // magic (6) + version (2) + length (2) + header + '\n', padded to 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let len = u16::try_from(header.len()).map_err(|_| NpyError::HeaderTooLong)?;
    let plain = t
        .try_as_plain_ram()
        .map_err(Error::tensor("a tensor's data"))?;
    let data = plain.as_bytes();
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    if cfg!(target_endian = "little") || t.datum_type().size_of() == 1 {
        out.extend_from_slice(data);
    } else {
        for chunk in data.chunks(t.datum_type().size_of()) {
            out.extend(chunk.iter().rev());
        }
    }
    Ok(out)
}

/// Reads one `.npy` array.
pub fn decode_npy(reader: &mut impl Read, what: &str) -> Result<Tensor> {
    let header = Header::from_reader(reader).map_err(|source| NpyError::NotNpy {
        what: what.to_owned(),
        source,
    })?;
    let text = header.type_descriptor.to_string();
    let code = text.trim_matches(|c| c == '\'' || c == '"');
    let Some((dt, big)) = datum_of(code) else {
        return Err(NpyError::Type {
            what: what.to_owned(),
            descr: text,
        }
        .into());
    };
    let mut data = vec![];
    reader
        .read_to_end(&mut data)
        .map_err(|source| NpyError::Read {
            what: what.to_owned(),
            source,
        })?;
    let size = dt.size_of();
    let count: usize = header.shape.iter().product();
    if data.len() != count * size {
        return Err(NpyError::Size {
            what: what.to_owned(),
            bytes: data.len(),
            expected: count * size,
            shape: header.shape.clone(),
        }
        .into());
    }
    if big != cfg!(target_endian = "big") && size > 1 {
        for chunk in data.chunks_mut(size) {
            chunk.reverse();
        }
    }
    let fortran = header.layout.is_fortran();
    let shape: Vec<usize> = if fortran {
        header.shape.iter().rev().copied().collect()
    } else {
        header.shape.clone()
    };
    // Safety: `data` holds exactly `count` little-endian values of `dt`;
    // bools were written by numpy as 0 or 1.
    if dt == DatumType::Bool && data.iter().any(|&b| b > 1) {
        return Err(NpyError::NotBool {
            what: what.to_owned(),
        }
        .into());
    }
    let tensor = unsafe { Tensor::from_raw_dt(dt, &shape, &data) }
        .map_err(Error::tensor(format!("{what}: cannot make a tensor of it")))?;
    if fortran {
        let axes: Vec<usize> = (0..shape.len()).rev().collect();
        return tensor.permute_axes(&axes).map_err(Error::tensor(format!(
            "{what}: cannot reorder its Fortran-order data"
        )));
    }
    Ok(tensor)
}

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Tensor> {
    let file = File::open(path).map_err(|e| crate::Error::io(path, "cannot open", e))?;
    decode_npy(&mut BufReader::new(file), &format!("`{}`", path.display()))
}

/// Reads every array of a `.npz` archive, in archive order. numpy's
/// `savez` stores its members uncompressed (in zip64 form), which is what is
/// read here; `savez_compressed` archives are refused with a message.
pub fn read_npz(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let what = format!("`{}`", path.display());
    let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, "cannot read", e))?;
    let members = zip_members(&bytes).map_err(|source| NpyError::NotNpz {
        what: what.clone(),
        source,
    })?;
    let mut out = vec![];
    for (name, data) in members {
        let name = name.strip_suffix(".npy").unwrap_or(&name).to_owned();
        let t = decode_npy(&mut &data[..], &format!("{what} array `{name}`"))?;
        out.push((name, t));
    }
    Ok(out)
}

fn le(bytes: &[u8], at: usize, len: usize) -> Result<u64, ZipError> {
    let field = bytes
        .get(at..at + len)
        .ok_or(ZipError::Truncated { inside: "a record" })?;
    Ok(field
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// The members of a zip archive whose entries are stored uncompressed, as
/// (name, data), from its central directory (zip64 included).
fn zip_members(bytes: &[u8]) -> Result<Vec<(String, &[u8])>, ZipError> {
    const EOCD: u64 = 0x0605_4b50;
    const EOCD64: u64 = 0x0606_4b50;
    const LOCATOR64: u64 = 0x0706_4b50;
    const CENTRAL: u64 = 0x0201_4b50;
    const LOCAL: u64 = 0x0403_4b50;
    let search_from = bytes.len().saturating_sub(22 + 65535);
    let eocd = (search_from..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&i| le(bytes, i, 4).ok() == Some(EOCD))
        .ok_or(ZipError::NoEnd)?;
    let mut entries = le(bytes, eocd + 10, 2)?;
    let mut cd_offset = le(bytes, eocd + 16, 4)?;
    if (entries == 0xFFFF || cd_offset == 0xFFFF_FFFF)
        && eocd >= 20
        && le(bytes, eocd - 20, 4)? == LOCATOR64
    {
        let at = le(bytes, eocd - 20 + 8, 8)? as usize;
        if le(bytes, at, 4)? != EOCD64 {
            return Err(ZipError::BadZip64End);
        }
        entries = le(bytes, at + 32, 8)?;
        cd_offset = le(bytes, at + 48, 8)?;
    }
    let mut members = vec![];
    let mut at = cd_offset as usize;
    for _ in 0..entries {
        if le(bytes, at, 4)? != CENTRAL {
            return Err(ZipError::BadEntry { at });
        }
        let method = le(bytes, at + 10, 2)?;
        let mut size = le(bytes, at + 20, 4)?;
        let mut csize = le(bytes, at + 24, 4)?;
        let name_len = le(bytes, at + 28, 2)? as usize;
        let extra_len = le(bytes, at + 30, 2)? as usize;
        let comment_len = le(bytes, at + 32, 2)? as usize;
        let mut offset = le(bytes, at + 42, 4)?;
        let name_bytes = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or(ZipError::Truncated { inside: "a name" })?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        // The zip64 extra field holds, in order, whichever of the sizes and
        // the offset did not fit in 32 bits.
        let mut extra = at + 46 + name_len;
        let extra_end = extra + extra_len;
        while extra + 4 <= extra_end {
            let id = le(bytes, extra, 2)?;
            let len = le(bytes, extra + 2, 2)? as usize;
            if id == 1 {
                let mut field = extra + 4;
                for value in [&mut size, &mut csize, &mut offset] {
                    if *value == 0xFFFF_FFFF {
                        *value = le(bytes, field, 8)?;
                        field += 8;
                    }
                }
            }
            extra += 4 + len;
        }
        if method != 0 {
            return Err(ZipError::Compressed { member: name });
        }
        if size != csize {
            return Err(ZipError::TwoSizes { member: name });
        }
        let local = offset as usize;
        if le(bytes, local, 4)? != LOCAL {
            return Err(ZipError::BadLocalHeader { member: name });
        }
        let start =
            local + 30 + le(bytes, local + 26, 2)? as usize + le(bytes, local + 28, 2)? as usize;
        let data = bytes
            .get(start..start + size as usize)
            .ok_or_else(|| ZipError::PastEnd {
                member: name.clone(),
            })?;
        members.push((name, data));
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(members)
}

/// A tensor already encoded as `.npy`, for ndarray-npy's `.npz` writer.
struct Encoded(Vec<u8>);

impl WriteNpyExt for Encoded {
    fn write_npy<W: Write>(&self, mut writer: W) -> std::result::Result<(), WriteNpyError> {
        writer.write_all(&self.0)?;
        writer.flush()?;
        Ok(())
    }
}

/// Writes `t` as a `.npy` file, atomically.
pub fn write_npy(path: &Path, t: &Tensor) -> Result<()> {
    let bytes = encode_npy(t).map_err(|e| NpyError::Write {
        path: path.to_owned(),
        array: None,
        source: Box::new(e),
    })?;
    Ok(write_atomically(path, |f| f.write_all(&bytes))?)
}

/// Writes `arrays` as one uncompressed `.npz` archive, atomically.
pub fn write_npz(path: &Path, arrays: &[(String, Tensor)]) -> Result<()> {
    let encoded: Vec<(String, Encoded)> = arrays
        .iter()
        .map(|(n, t)| {
            let bytes = encode_npy(t).map_err(|e| NpyError::Write {
                path: path.to_owned(),
                array: Some(n.clone()),
                source: Box::new(e),
            })?;
            Ok((n.clone(), Encoded(bytes)))
        })
        .collect::<Result<_>>()?;
    Ok(write_atomically(path, |f| {
        let mut npz = NpzWriter::new(f);
        for (name, array) in &encoded {
            npz.add_array(name.as_str(), array)
                .map_err(io::Error::other)?;
        }
        npz.finish().map_err(io::Error::other)?;
        Ok(())
    })?)
}

/// Writes a file atomically, replacing it if it exists, with the writer all
/// files share (`model::atomic`: permissions as the umask allows).
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), crate::Error> {
    atomic::write_atomically(path, true, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips_every_type() {
        let tensors = [
            Tensor::from_shape(&[2, 3], &[1f32, -2., 3.5, 0., 1e-3, 7.]).unwrap(),
            Tensor::from_shape(&[3], &[f16::from_f32(0.5), f16::ONE, f16::NEG_ONE]).unwrap(),
            Tensor::from_shape(&[1, 2], &[1f64, 2.]).unwrap(),
            Tensor::from_shape::<i64>(&[], &[42]).unwrap(),
            Tensor::from_shape(&[2], &[true, false]).unwrap(),
        ];
        for t in tensors {
            let bytes = encode_npy(&t).unwrap();
            assert_eq!(
                (bytes.len() - t.try_as_plain_ram().unwrap().as_bytes().len()) % 64,
                0
            );
            let back = decode_npy(&mut bytes.as_slice(), "test").unwrap();
            assert_eq!(back, t);
        }
    }

    #[test]
    fn npz_round_trips_float16() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        let a = Tensor::from_shape(&[2], &[f16::ONE, f16::from_f32(-0.5)]).unwrap();
        let b = Tensor::from_shape(&[1, 2], &[3f64, 4.]).unwrap();
        write_npz(&path, &[("a".into(), a.clone()), ("b.c".into(), b.clone())]).unwrap();
        let back = read_npz(&path).unwrap();
        assert_eq!(back, vec![("a".to_owned(), a), ("b.c".to_owned(), b)]);
    }
}
