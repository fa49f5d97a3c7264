//! The inputs `verify`, `run` and `bench` feed a model: files, test data
//! sets, or seeded random data.
//!
//! Exactly one source is used. With `--input NAME=FILE.npy` (repeatable) or
//! `--input FILE.npz` (arrays named after the inputs), every input must be
//! given. With `--data DIR`, `DIR` is a `test_data_set_N` folder of
//! `input_K.pb` (the K-th graph input, or the input the tensor is named
//! after) and optional `output_K.pb` expected outputs, or a folder holding
//! several `test_data_set_*`, each one sample. Otherwise each sample draws
//! every input uniformly from its range (`--range`, default −3..3 for floats,
//! 0..10 for integers; bools are fair coins) with a generator seeded by
//! `--seed` and the sample's index, so a run is reproducible. Symbolic dims
//! take their `--dim NAME=VALUE` (default 1).
//!
//! Data is cast to each input's declared type (float32 files may feed a
//! float16 input), and fixed dims of the declared shape are checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use prost::Message;
use tract_onnx::prelude::*;

use crate::model::facts::Dim;
use crate::proto::{DataType, TensorProto};
use crate::rng::Rng;
use crate::tract::engine::InputDecl;
use crate::tract::error::{Error, InputError, OptionError, Result};
use crate::tract::npy;
use crate::tract::tensor::tensor_from_proto;

/// One `--input` argument.
#[derive(Debug, Clone, PartialEq)]
pub enum InputFile {
    /// `NAME=FILE.npy`
    Named { name: String, path: PathBuf },
    /// `FILE.npz`
    Archive(PathBuf),
    /// `FILE.npy` alone: the model's only input.
    Unnamed(PathBuf),
}

impl FromStr for InputFile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((name, path)) = s.split_once('=')
            && !name.is_empty()
        {
            if path.is_empty() {
                return Err(format!("`{s}`: no file after `=`"));
            }
            return Ok(InputFile::Named {
                name: name.to_owned(),
                path: PathBuf::from(path),
            });
        }
        if s.ends_with(".npz") {
            Ok(InputFile::Archive(PathBuf::from(s)))
        } else if s.ends_with(".npy") {
            Ok(InputFile::Unnamed(PathBuf::from(s)))
        } else {
            Err(format!(
                "`{s}`: expected NAME=FILE.npy, FILE.npy or FILE.npz"
            ))
        }
    }
}

/// One `--range` argument: `LO,HI` for every input, or `NAME=LO,HI`.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSpec {
    pub input: Option<String>,
    pub lo: f64,
    pub hi: f64,
}

impl FromStr for RangeSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (input, bounds) = match s.rsplit_once('=') {
            Some((name, bounds)) => (Some(name.to_owned()), bounds),
            None => (None, s),
        };
        let parse = |v: &str| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{s}`: `{v}` is not a finite number"))
        };
        let Some((lo, hi)) = bounds.split_once(',') else {
            return Err(format!("`{s}`: expected LO,HI or NAME=LO,HI"));
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(format!("`{s}`: LO is greater than HI"));
        }
        Ok(RangeSpec { input, lo, hi })
    }
}

/// One `--dim NAME=VALUE` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct DimSpec {
    pub name: String,
    pub value: usize,
}

impl FromStr for DimSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((name, value)) = s.split_once('=') else {
            return Err(format!("`{s}`: expected NAME=VALUE"));
        };
        let value = value
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("`{s}`: `{value}` is not a size"))?;
        Ok(DimSpec {
            name: name.to_owned(),
            value,
        })
    }
}

/// Where inputs come from.
#[derive(Debug, Clone)]
pub struct InputOptions {
    pub files: Vec<InputFile>,
    pub data: Vec<PathBuf>,
    pub seed: u64,
    pub ranges: Vec<RangeSpec>,
    pub samples: usize,
    pub dims: Vec<DimSpec>,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            files: vec![],
            data: vec![],
            seed: 0,
            ranges: vec![],
            samples: 1,
            dims: vec![],
        }
    }
}

impl InputOptions {
    /// A short description for reports: `random`, `files` or `data`.
    pub fn source(&self) -> &'static str {
        if !self.files.is_empty() {
            "files"
        } else if !self.data.is_empty() {
            "data"
        } else {
            "random"
        }
    }
}

/// One set of inputs and, from test data, the outputs expected for it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Where it came from: `seed 0, sample 1`, a folder, file names.
    pub label: String,
    /// One tensor per declared input, in declaration order.
    pub inputs: Vec<Tensor>,
    /// Per output (by position), the expected tensor, if the data has one.
    pub expected: Vec<Option<Tensor>>,
}

/// Builds the samples `options` asks for, for a model with these inputs and
/// outputs.
pub fn samples(
    decls: &[InputDecl],
    outputs: &[String],
    options: &InputOptions,
) -> Result<Vec<Sample>> {
    if !options.files.is_empty() && !options.data.is_empty() {
        return Err(OptionError::TwoSources.into());
    }
    if !options.files.is_empty() {
        return Ok(vec![from_files(decls, &options.files)?]);
    }
    if !options.data.is_empty() {
        let mut out = vec![];
        for dir in &options.data {
            for set in data_sets(dir)? {
                out.push(from_data_set(decls, outputs, &set)?);
            }
        }
        return Ok(out);
    }
    if options.samples == 0 {
        return Err(OptionError::NoSamples.into());
    }
    for range in &options.ranges {
        if let Some(name) = &range.input
            && !decls.iter().any(|d| &d.name == name)
        {
            return Err(OptionError::UnknownRangeInput {
                name: name.clone(),
                inputs: input_list(decls),
            }
            .into());
        }
    }
    let symbols: Vec<&str> = decls
        .iter()
        .flat_map(|d| d.shape.iter().flatten())
        .filter_map(|d| match d {
            Dim::Symbol(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    for dim in &options.dims {
        if !symbols.contains(&dim.name.as_str()) {
            return Err(OptionError::UnknownDim {
                name: dim.name.clone(),
                symbols: if symbols.is_empty() {
                    "none".to_owned()
                } else {
                    symbols.join(", ")
                },
            }
            .into());
        }
    }
    (0..options.samples)
        .map(|index| random_sample(decls, options, index))
        .collect()
}

fn input_list(decls: &[InputDecl]) -> String {
    let names: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
    if names.is_empty() {
        "the model has none".into()
    } else {
        format!("inputs: {}", names.join(", "))
    }
}

fn from_files(decls: &[InputDecl], files: &[InputFile]) -> Result<Sample> {
    let mut given: BTreeMap<String, (Tensor, String)> = BTreeMap::new();
    let mut put = |name: String, t: Tensor, from: String| -> Result<()> {
        if !decls.iter().any(|d| d.name == name) {
            return Err(InputError::NotAnInput {
                from,
                name,
                inputs: input_list(decls),
            }
            .into());
        }
        if let Some((_, first)) = given.get(&name) {
            return Err(InputError::GivenTwice {
                input: name,
                first: first.clone(),
                from,
            }
            .into());
        }
        given.insert(name, (t, from));
        Ok(())
    };
    for file in files {
        match file {
            InputFile::Named { name, path } => {
                let t = npy::read_npy(path)?;
                put(name.clone(), t, format!("`{}`", path.display()))?;
            }
            InputFile::Unnamed(path) => {
                let [only] = decls else {
                    return Err(OptionError::UnnamedFile {
                        path: path.clone(),
                        count: decls.len(),
                        inputs: input_list(decls),
                    }
                    .into());
                };
                let t = npy::read_npy(path)?;
                put(only.name.clone(), t, format!("`{}`", path.display()))?;
            }
            InputFile::Archive(path) => {
                for (name, t) in npy::read_npz(path)? {
                    put(
                        name.clone(),
                        t,
                        format!("`{}` array `{name}`", path.display()),
                    )?;
                }
            }
        }
    }
    let mut symbols = BTreeMap::new();
    let mut inputs = vec![];
    for decl in decls {
        let Some((t, from)) = given.remove(&decl.name) else {
            return Err(OptionError::InputNotGiven {
                input: decl.name.clone(),
                type_name: decl.type_name(),
                shape: decl.shape_string(),
            }
            .into());
        };
        inputs.push(conform(decl, t, &from, &mut symbols)?);
    }
    let label = files
        .iter()
        .map(|f| match f {
            InputFile::Named { path, .. } | InputFile::Archive(path) | InputFile::Unnamed(path) => {
                path.display().to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Sample {
        label,
        inputs,
        expected: vec![],
    })
}

/// The test data set folders `dir` stands for, in order.
fn data_sets(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(OptionError::DataNotFolder {
            path: dir.to_owned(),
        }
        .into());
    }
    if dir.join("input_0.pb").exists() {
        return Ok(vec![dir.to_owned()]);
    }
    let mut sets: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| crate::Error::io(dir, "cannot list", e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let index = name.strip_prefix("test_data_set_")?.parse::<u64>().ok()?;
            e.path().is_dir().then(|| (index, e.path()))
        })
        .collect();
    sets.sort();
    if sets.is_empty() {
        return Err(OptionError::NoDataSets {
            path: dir.to_owned(),
        }
        .into());
    }
    Ok(sets.into_iter().map(|(_, p)| p).collect())
}

fn read_pb(path: &Path) -> Result<TensorProto> {
    let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, "cannot read", e))?;
    TensorProto::decode(bytes.as_slice()).map_err(|source| {
        InputError::NotTensorProto {
            path: path.to_owned(),
            source,
        }
        .into()
    })
}

fn numbered(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    (0..)
        .map(|k| dir.join(format!("{prefix}_{k}.pb")))
        .take_while(|p| p.exists())
        .collect()
}

fn from_data_set(decls: &[InputDecl], outputs: &[String], dir: &Path) -> Result<Sample> {
    let files = numbered(dir, "input");
    if files.len() != decls.len() {
        return Err(InputError::DataSetInputs {
            dir: dir.to_owned(),
            files: files.len(),
            expected: decls.len(),
            inputs: input_list(decls),
        }
        .into());
    }
    let mut by_name: Vec<Option<(Tensor, String)>> = vec![None; decls.len()];
    for (k, path) in files.iter().enumerate() {
        let proto = read_pb(path)?;
        let from = format!("`{}`", path.display());
        // Test data names its tensors after the inputs; fall back on order.
        let slot = decls
            .iter()
            .position(|d| !proto.name().is_empty() && d.name == proto.name())
            .unwrap_or(k);
        if let Some((_, first)) = &by_name[slot] {
            return Err(InputError::GivenTwice {
                input: decls[slot].name.clone(),
                first: first.clone(),
                from,
            }
            .into());
        }
        let t = tensor_from_proto(&proto).map_err(|source| InputError::Data {
            path: path.clone(),
            source,
        })?;
        by_name[slot] = Some((t, from));
    }
    let mut symbols = BTreeMap::new();
    let mut inputs = vec![];
    for (decl, given) in decls.iter().zip(by_name) {
        let (t, from) = given.expect("every slot is filled: as many files as inputs");
        inputs.push(conform(decl, t, &from, &mut symbols)?);
    }
    let mut expected: Vec<Option<Tensor>> = vec![None; outputs.len()];
    for (k, path) in numbered(dir, "output").iter().enumerate() {
        let proto = read_pb(path)?;
        let slot = outputs
            .iter()
            .position(|o| !proto.name().is_empty() && o == proto.name())
            .unwrap_or(k);
        if slot >= outputs.len() {
            return Err(InputError::ExtraOutput {
                path: path.clone(),
                outputs: outputs.len(),
            }
            .into());
        }
        let t = tensor_from_proto(&proto).map_err(|source| InputError::Data {
            path: path.clone(),
            source,
        })?;
        expected[slot] = Some(t);
    }
    Ok(Sample {
        label: dir.display().to_string(),
        inputs,
        expected,
    })
}

/// The tract type of an ONNX element type, for the types inputs may have.
pub fn datum_type(elem_type: i32) -> Option<DatumType> {
    Some(match DataType::try_from(elem_type).ok()? {
        DataType::Float => DatumType::F32,
        DataType::Double => DatumType::F64,
        DataType::Float16 => DatumType::F16,
        DataType::Int64 => DatumType::I64,
        DataType::Int32 => DatumType::I32,
        DataType::Int16 => DatumType::I16,
        DataType::Int8 => DatumType::I8,
        DataType::Uint8 => DatumType::U8,
        DataType::Uint16 => DatumType::U16,
        DataType::Uint32 => DatumType::U32,
        DataType::Uint64 => DatumType::U64,
        DataType::Bool => DatumType::Bool,
        _ => return None,
    })
}

/// Casts `t` to the input's type and checks its shape against the
/// declaration (fixed dims equal, each symbol one value across inputs).
fn conform(
    decl: &InputDecl,
    t: Tensor,
    from: &str,
    symbols: &mut BTreeMap<String, (usize, String)>,
) -> Result<Tensor> {
    let Some(dt) = datum_type(decl.elem_type) else {
        return Err(InputError::Type {
            input: decl.name.clone(),
            type_name: decl.type_name(),
        }
        .into());
    };
    let mut t = t;
    if let Some(dims) = &decl.shape {
        // Test data sometimes stores a scalar as [1] (or adds or drops other
        // size-1 dims): with a fully known declared shape and the same
        // non-1 dims, take the declared shape.
        let declared: Option<Vec<usize>> = dims
            .iter()
            .map(|d| match d {
                Dim::Known(v) => usize::try_from(*v).ok(),
                _ => None,
            })
            .collect();
        if let Some(declared) = declared {
            let non_one = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
            if declared != t.shape() && non_one(&declared) == non_one(t.shape()) {
                t = t.into_shape(&declared).map_err(Error::tensor(format!(
                    "{from}: input `{}`: cannot take the declared shape {declared:?}",
                    decl.name
                )))?;
            }
        }
        let shape = t.shape();
        let mismatch = || -> Error {
            InputError::Shape {
                from: from.to_owned(),
                input: decl.name.clone(),
                shape: shape.to_vec(),
                expected: decl.shape_string(),
            }
            .into()
        };
        if dims.len() != shape.len() {
            return Err(mismatch());
        }
        for (d, &s) in dims.iter().zip(shape) {
            match d {
                Dim::Known(v) if *v as usize != s => return Err(mismatch()),
                Dim::Symbol(name) => {
                    let (value, first) = symbols
                        .entry(name.clone())
                        .or_insert_with(|| (s, format!("input `{}`", decl.name)));
                    if *value != s {
                        return Err(InputError::DimConflict {
                            from: from.to_owned(),
                            input: decl.name.clone(),
                            dim: name.clone(),
                            value: s,
                            first: first.clone(),
                            first_value: *value,
                        }
                        .into());
                    }
                }
                _ => {}
            }
        }
    }
    if t.datum_type() == dt {
        return Ok(t);
    }
    let cast = t
        .cast_to_dt(dt)
        .map_err(|source| InputError::Cast {
            from: from.to_owned(),
            input: decl.name.clone(),
            to: format!("{dt:?}"),
            source,
        })?
        .into_owned();
    Ok(cast)
}

/// The most elements random data is made for, per input (4 GiB of float32):
/// a declared shape is untrusted.
const MAX_RANDOM_ELEMENTS: usize = 1 << 30;

fn random_sample(decls: &[InputDecl], options: &InputOptions, index: usize) -> Result<Sample> {
    let mut rng = sample_rng(options.seed, index as u64);
    let mut inputs = vec![];
    for decl in decls {
        let Some(dt) = datum_type(decl.elem_type) else {
            return Err(InputError::NoRandomData {
                input: decl.name.clone(),
                type_name: decl.type_name(),
            }
            .into());
        };
        let shape: Vec<usize> = match &decl.shape {
            Some(dims) => dims
                .iter()
                .map(|d| match d {
                    Dim::Known(v) => usize::try_from(*v).unwrap_or(1),
                    Dim::Symbol(s) => options
                        .dims
                        .iter()
                        .find(|d| &d.name == s)
                        .map(|d| d.value)
                        .unwrap_or(1),
                    Dim::Unknown => 1,
                })
                .collect(),
            None => {
                return Err(OptionError::NoDeclaredShape {
                    input: decl.name.clone(),
                }
                .into());
            }
        };
        let range = options
            .ranges
            .iter()
            .rev()
            .find(|r| r.input.as_deref() == Some(&decl.name))
            .or_else(|| options.ranges.iter().rev().find(|r| r.input.is_none()));
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&c| c <= MAX_RANDOM_ELEMENTS)
            .ok_or_else(|| OptionError::TooMuchRandomData {
                input: decl.name.clone(),
                shape: shape.clone(),
                max: MAX_RANDOM_ELEMENTS,
            })?;
        let made = Error::tensor(format!("random data for input `{}`", decl.name));
        let t = if dt == DatumType::Bool {
            let v: Vec<bool> = (0..count).map(|_| rng.next_u64() & 1 == 1).collect();
            Tensor::from_shape(&shape, &v).map_err(made)?
        } else if dt.is_float() {
            let (lo, hi) = range.map(|r| (r.lo, r.hi)).unwrap_or((-3.0, 3.0));
            let v: Vec<f64> = (0..count).map(|_| lo + (hi - lo) * rng.unit()).collect();
            cast(Tensor::from_shape(&shape, &v), dt).map_err(made)?
        } else {
            let (lo, hi) = range.map(|r| (r.lo, r.hi)).unwrap_or((0.0, 10.0));
            let (lo, hi) = (lo.ceil() as i64, hi.floor() as i64);
            if lo > hi {
                return Err(OptionError::NoIntegerInRange {
                    input: decl.name.clone(),
                }
                .into());
            }
            let span = (hi - lo) as u64 + 1;
            let v: Vec<i64> = (0..count)
                .map(|_| lo + (rng.next_u64() % span) as i64)
                .collect();
            cast(Tensor::from_shape(&shape, &v), dt).map_err(made)?
        };
        inputs.push(t);
    }
    Ok(Sample {
        label: format!("random, seed {}, sample {index}", options.seed),
        inputs,
        expected: vec![],
    })
}

/// `t` cast to `dt`.
fn cast(t: TractResult<Tensor>, dt: DatumType) -> TractResult<Tensor> {
    Ok(t?.cast_to_dt(dt)?.into_owned())
}

/// The generator of sample `index`. The stream is derived as it always was
/// (not with `Rng::stream`), so a seed still gives the inputs it gave before.
fn sample_rng(seed: u64, index: u64) -> Rng {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    rng.next_u64();
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse() {
        assert_eq!(
            "x=a.npy".parse::<InputFile>().unwrap(),
            InputFile::Named {
                name: "x".into(),
                path: "a.npy".into()
            }
        );
        assert_eq!(
            "all.npz".parse::<InputFile>().unwrap(),
            InputFile::Archive("all.npz".into())
        );
        assert_eq!(
            "a.npy".parse::<InputFile>().unwrap(),
            InputFile::Unnamed("a.npy".into())
        );
        let r: RangeSpec = "-2.5,4".parse().unwrap();
        assert_eq!((r.input, r.lo, r.hi), (None, -2.5, 4.0));
        let r: RangeSpec = "x=-1,1".parse().unwrap();
        assert_eq!(r.input.as_deref(), Some("x"));
        assert!("3,1".parse::<RangeSpec>().is_err());
        assert_eq!("batch=4".parse::<DimSpec>().unwrap().value, 4);
    }

    #[test]
    fn random_streams_differ_by_seed_and_sample() {
        let first = |seed, stream| sample_rng(seed, stream).next_u64();
        assert_ne!(first(0, 0), first(0, 1));
        assert_ne!(first(0, 0), first(1, 0));
        assert_eq!(first(7, 3), first(7, 3));
    }
}
