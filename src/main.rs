//! The `acon-onnx` command line: parses arguments, calls the library, prints
//! reports and turns the outcome into an exit code (0 success, 1 `verify`
//! found a difference, 2 any error, printed as a cause chain). The library
//! says what is wrong; where a flag fixes it, this file says which.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use acon_onnx::{ConvertOptions, ExternalData, SaveOptions, inspect, zoo};

#[derive(Parser)]
#[command(
    name = "acon-onnx",
    version,
    about = "Convert, verify and run ONNX models with ACON activations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rewrite every ACON op into standard ONNX ops.
    Convert(ConvertArgs),
    /// Summarise a model: opsets, inputs, outputs, ops, ACON nodes, parameters.
    Inspect(InspectArgs),
    /// Write one of the ACON paper's ImageNet networks with seeded random weights.
    Zoo(ZooArgs),
    /// Print docs/seed-table.md: the zoo's FLOPs and parameters beside the paper's.
    #[command(hide = true)]
    ZooTable,
    /// Check that a converted model computes what the original does
    /// (exit 0 equivalent, 1 not equivalent, 2 error).
    #[cfg(feature = "tract")]
    Verify(tract_cli::VerifyArgs),
    /// Run a model on CPU with tract; print or save its outputs.
    #[cfg(feature = "tract")]
    Run(tract_cli::RunArgs),
    /// Time a model with tract, or two side by side.
    #[cfg(feature = "tract")]
    Bench(tract_cli::BenchArgs),
}

#[derive(Args)]
struct ConvertArgs {
    /// The model to convert (never modified).
    input: PathBuf,
    /// Where to write the converted model [default: <stem>.converted.onnx beside INPUT].
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also treat nodes of this domain as ACON ops (repeatable; `acon` always is).
    #[arg(long = "acon-domain", value_name = "NAME")]
    acon_domains: Vec<String>,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    force: bool,
    /// Do not run this pass (repeatable).
    #[arg(long = "skip-pass", value_name = "PASS")]
    skip_passes: Vec<String>,
    /// What ACON activations become: `standard` ops, `acon` custom-op
    /// nodes (every form found: custom ops, functions, standard-op blocks),
    /// or `nnef`: standard ops written as tract's NNEF archive
    /// [default OUTPUT: <stem>.nnef.tgz; a plain tar when it ends in .tar],
    /// checked by reloading it.
    #[arg(long = "to", value_enum, default_value = "standard")]
    to: ConvertTarget,
    /// Write tensor data to an external file beside OUTPUT: FILE is a relative
    /// path inside OUTPUT's directory [default: <OUTPUT file name>.data].
    /// Without this flag, --no-external-data or --size-threshold, each tensor
    /// stays where it was in INPUT (external ones in a data file of the same
    /// relative location and offset order, embedded ones embedded), and data
    /// goes external only when OUTPUT would pass protobuf's 2 GiB limit.
    #[arg(
        long = "external-data",
        value_name = "FILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        conflicts_with = "no_external_data"
    )]
    external_data: Option<String>,
    /// Embed all tensor data in OUTPUT, even when INPUT had external data
    /// (an error past 2 GiB).
    #[arg(long = "no-external-data")]
    no_external_data: bool,
    /// With external data, initializers of at least BYTES go to the data file
    /// [default: 1024]. Given alone, lays out an INPUT with external data by
    /// this threshold instead of keeping each tensor where it was.
    #[arg(long = "size-threshold", value_name = "BYTES")]
    size_threshold: Option<u64>,
    /// The protobuf size past which data goes external automatically
    /// [default: 2 GiB - 1]. For tests, which take that path with a small model.
    #[arg(long = "max-proto-size", value_name = "BYTES", hide = true)]
    max_proto_size: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum ConvertTarget {
    Standard,
    Acon,
    Nnef,
}

#[derive(Args)]
struct InspectArgs {
    /// The model to inspect.
    model: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also treat nodes of this domain as ACON ops (repeatable).
    #[arg(long = "acon-domain", value_name = "NAME")]
    acon_domains: Vec<String>,
    /// Also count parameters and multiply-adds (Conv, Gemm, MatMul), element-wise and pooling ops.
    #[arg(long)]
    flops: bool,
    /// Set a symbolic input dim for --flops (repeatable; unset symbols count as 1).
    #[arg(long = "dim", value_name = "NAME=VALUE", value_parser = parse_dim, requires = "flops")]
    dims: Vec<(String, usize)>,
}

#[derive(Args)]
struct ZooArgs {
    /// The network.
    arch: ArchArg,
    /// The activation put in the ACON slots (see docs/seed-table.md for where they are).
    #[arg(long, value_enum, default_value = "relu")]
    act: ActivationArg,
    /// Width multiplier [default: 1.0; ShuffleNetV2 takes 0.5, 1.0, 1.5 or 2.0].
    #[arg(long)]
    width: Option<f64>,
    /// Input height and width (a multiple of 32).
    #[arg(long, default_value_t = 224)]
    resolution: usize,
    /// Seed of the random weights; the same seed gives the same weights whatever --act.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The batch dim: a number, or a name for a symbolic dim (e.g. `batch`).
    #[arg(long, default_value = "1")]
    batch: String,
    /// Decompose the ACON ops into standard ONNX ops.
    #[arg(long)]
    standard: bool,
    /// Where to write the model.
    #[arg(short, long)]
    output: PathBuf,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    force: bool,
}

fn parse_dim(s: &str) -> Result<(String, usize), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    let value = value
        .parse()
        .map_err(|_| format!("`{value}` is not a dim size"))?;
    Ok((name.to_owned(), value))
}

/// `zoo::Arch` as the command line spells it.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ArchArg {
    #[value(name = "mobilenet_v1")]
    MobileNetV1,
    #[value(name = "mobilenet_v2")]
    MobileNetV2,
    #[value(name = "shufflenet_v2")]
    ShuffleNetV2,
    Resnet18,
    Resnet50,
    Resnet101,
    Resnet152,
}

impl From<ArchArg> for zoo::Arch {
    fn from(arch: ArchArg) -> Self {
        match arch {
            ArchArg::MobileNetV1 => zoo::Arch::MobileNetV1,
            ArchArg::MobileNetV2 => zoo::Arch::MobileNetV2,
            ArchArg::ShuffleNetV2 => zoo::Arch::ShuffleNetV2,
            ArchArg::Resnet18 => zoo::Arch::Resnet18,
            ArchArg::Resnet50 => zoo::Arch::Resnet50,
            ArchArg::Resnet101 => zoo::Arch::Resnet101,
            ArchArg::Resnet152 => zoo::Arch::Resnet152,
        }
    }
}

/// `zoo::Activation` as the command line spells it.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ActivationArg {
    Relu,
    Swish,
    AconC,
    MetaAcon,
}

impl From<ActivationArg> for zoo::Activation {
    fn from(act: ActivationArg) -> Self {
        match act {
            ActivationArg::Relu => zoo::Activation::Relu,
            ActivationArg::Swish => zoo::Activation::Swish,
            ActivationArg::AconC => zoo::Activation::AconC,
            ActivationArg::MetaAcon => zoo::Activation::MetaAcon,
        }
    }
}

/// The error's cause chain as `{:#}` prints it, with the library's typed
/// errors reworded in terms of the flags that fix them.
fn explain(err: &anyhow::Error) -> String {
    err.chain()
        .map(|cause| in_flag_terms(cause).unwrap_or_else(|| cause.to_string()))
        .collect::<Vec<_>>()
        .join(": ")
}

/// What the command line says instead of `cause`, when it knows better.
fn in_flag_terms(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = downcast::<acon_onnx::Error>(cause) {
        return library_in_flag_terms(e);
    }
    #[cfg(feature = "tract")]
    if let Some(e) = downcast::<acon_onnx::tract::Error>(cause) {
        return tract_cli::in_flag_terms(e);
    }
    #[cfg(feature = "tract")]
    if let Some(e) = downcast::<acon_onnx::tract::OptionError>(cause) {
        return Some(tract_cli::option_in_flag_terms(e));
    }
    None
}

/// `cause` as an `E`, also when a variant keeps it boxed.
fn downcast<'a, E: std::error::Error + 'static>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    cause
        .downcast_ref::<E>()
        .or_else(|| cause.downcast_ref::<Box<E>>().map(|b| &**b))
}

/// A library error in terms of the flags that fix it.
fn library_in_flag_terms(e: &acon_onnx::Error) -> Option<String> {
    match e {
        acon_onnx::Error::Exists { .. } => Some(format!("{e} (use --force to replace it)")),
        acon_onnx::Error::TooLarge { .. } => Some(format!(
            "{e}; drop --no-external-data to write its tensor data to an external file"
        )),
        acon_onnx::Error::TooLargeAsLoaded { .. } => Some(format!(
            "{e}; use --external-data to move large embedded tensors out too"
        )),
        _ => None,
    }
}

/// A warning of the converter in terms of the flags that act on it.
fn warning_in_flag_terms(w: &acon_onnx::Warning) -> String {
    match w {
        acon_onnx::Warning::ForeignAcon { domain, .. } => {
            format!("{} (add `--acon-domain {domain}` to convert it)", w.what())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Our code must not panic; if a dependency does, report it as an error
    // (exit 2) instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        eprintln!("error: internal failure{location}: {message}");
    }));
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(err)) => {
            eprintln!("error: {}", explain(&err));
            ExitCode::from(2)
        }
        Err(_) => ExitCode::from(2),
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Convert(args) => convert(args),
        Command::Inspect(args) => inspect_model(args),
        Command::Zoo(args) => zoo_model(args),
        Command::ZooTable => {
            print!("{}", zoo::table::markdown()?);
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "tract")]
        Command::Verify(args) => tract_cli::verify(args),
        #[cfg(feature = "tract")]
        Command::Run(args) => tract_cli::run(args),
        #[cfg(feature = "tract")]
        Command::Bench(args) => tract_cli::bench(args),
    }
}

fn default_output(input: &Path, to: ConvertTarget) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let suffix = match to {
        ConvertTarget::Nnef => "nnef.tgz",
        ConvertTarget::Standard | ConvertTarget::Acon => "converted.onnx",
    };
    input.with_file_name(format!("{stem}.{suffix}"))
}

fn convert(args: ConvertArgs) -> Result<ExitCode> {
    use acon_onnx::model::io;
    let started = Instant::now();
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.input, args.to));
    if args.to == ConvertTarget::Nnef {
        return convert_nnef(args, &output, started);
    }
    let mut options = ConvertOptions::with_domains(args.acon_domains);
    options.skip_passes = args.skip_passes;
    let external = match &args.external_data {
        Some(file) if file.is_empty() => ExternalData::File(None),
        Some(file) => ExternalData::File(Some(file.clone())),
        None if args.no_external_data => ExternalData::Never,
        // A threshold asks for the threshold's layout when the input had
        // external data.
        None if args.size_threshold.is_some() => ExternalData::Auto,
        // Every tensor where it was in the input.
        None => ExternalData::AsLoaded,
    };
    let save_options = SaveOptions {
        overwrite: args.force,
        external,
        size_threshold: args.size_threshold.unwrap_or(io::DEFAULT_SIZE_THRESHOLD),
        max_proto_size: args.max_proto_size.unwrap_or(io::MAX_PROTO_SIZE),
        inputs: vec![],
        origins: Default::default(),
    };
    let threshold = save_options.size_threshold;
    let pipeline = match args.to {
        ConvertTarget::Standard | ConvertTarget::Nnef => acon_onnx::Pipeline::convert(),
        ConvertTarget::Acon => acon_onnx::Pipeline::to_acon(),
    };
    let (report, saved) =
        acon_onnx::convert_file_with(&pipeline, &args.input, &output, &options, save_options)
            .with_context(|| format!("convert `{}`", args.input.display()))?;
    if saved.data_file.is_none() && args.external_data.is_some() {
        eprintln!(
            "warning: no initializer holds {threshold} bytes or more: all data is embedded and \
             no external data file was written"
        );
    } else if saved.data_file.is_none() && args.size_threshold.is_some() {
        eprintln!(
            "warning: --size-threshold has no effect: the output has no external data \
             (ask for it with --external-data)"
        );
    }
    for w in &report.warnings {
        eprintln!("warning: {}", warning_in_flag_terms(w));
    }
    let by_op: Vec<String> = report
        .rewritten
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    let rewritten = if by_op.is_empty() {
        "no ACON nodes".to_owned()
    } else {
        format!(
            "{} ACON nodes ({})",
            report.rewritten_total(),
            by_op.join(", ")
        )
    };
    let recognised = report.recognised_by_op();
    let recognised = if recognised.is_empty() {
        String::new()
    } else {
        let by_op: Vec<String> = recognised
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect();
        let kept = report.recognised.iter().filter(|b| !b.rewritten).count();
        let target = match args.to {
            ConvertTarget::Standard | ConvertTarget::Nnef => "standard ops",
            ConvertTarget::Acon => "acon custom ops",
        };
        let what = match (kept, report.recognised.len() - kept) {
            (0, _) => format!("wrote them as {target}"),
            (k, 0) => format!(
                "kept {} (ACON-A's pattern is already the arrangement)",
                plural(k, "it", "them")
            ),
            (k, _) => format!(
                "wrote them as {target} but {k} ACON-A (its pattern is already the arrangement)"
            ),
        };
        format!(
            "recognised {} ACON block{} in standard ops ({}) and {what}, ",
            report.recognised.len(),
            if report.recognised.len() == 1 {
                ""
            } else {
                "s"
            },
            by_op.join(", "),
        )
    };
    let data = match &saved.data_file {
        Some(file) => format!(
            " (+ {}: {} tensors, {} bytes{})",
            file.display(),
            saved.external_tensors,
            saved.data_bytes,
            if saved.automatic {
                ", external because the model would pass protobuf's size limit"
            } else {
                ""
            }
        ),
        None => String::new(),
    };
    let inlined: usize = report.inlined.values().sum();
    let inlined = if inlined == 0 {
        String::new()
    } else {
        let by_function: Vec<String> = report
            .inlined
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect();
        format!(
            "inlined {inlined} function calls ({}), ",
            by_function.join(", ")
        )
    };
    println!(
        "{} -> {}{data}: {inlined}{recognised}rewrote {rewritten}, added {} nodes, in {:.1} ms",
        args.input.display(),
        output.display(),
        report.nodes_added,
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
}

/// `convert --to nnef`: the archive has no external data, so the flags about
/// it are refused rather than ignored.
fn convert_nnef(args: ConvertArgs, output: &Path, started: Instant) -> Result<ExitCode> {
    let onnx_only = [
        ("--external-data", args.external_data.is_some()),
        ("--no-external-data", args.no_external_data),
        ("--size-threshold", args.size_threshold.is_some()),
        ("--max-proto-size", args.max_proto_size.is_some()),
    ];
    if let Some((flag, _)) = onnx_only.iter().find(|(_, given)| *given) {
        anyhow::bail!("{flag} applies to ONNX output, not to --to nnef");
    }
    #[cfg(feature = "tract")]
    {
        let mut convert = ConvertOptions::with_domains(args.acon_domains);
        convert.skip_passes = args.skip_passes;
        let options = acon_onnx::tract::NnefOptions {
            convert,
            seed: 0,
            overwrite: args.force,
        };
        let report = acon_onnx::tract::nnef::convert_file(&args.input, output, &options)
            .with_context(|| format!("convert `{}` to NNEF", args.input.display()))?;
        for w in &report.convert.warnings {
            eprintln!("warning: {}", warning_in_flag_terms(w));
        }
        println!(
            "{} -> {} (NNEF, {} bytes): {} ACON activations as standard ops, {} tract nodes; reloaded with \
             tract-nnef, {} output values bit-identical to tract-onnx's (seed 0), in {:.1} ms",
            args.input.display(),
            output.display(),
            report.bytes,
            report.convert.rewritten_total() + report.convert.recognised.len(),
            report.nodes,
            report.compared,
            started.elapsed().as_secs_f64() * 1e3
        );
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(not(feature = "tract"))]
    {
        let _ = (output, started);
        anyhow::bail!("--to nnef needs tract: this binary was built without the `tract` feature")
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

fn inspect_model(args: InspectArgs) -> Result<ExitCode> {
    let model = acon_onnx::load(&args.model).context("inspect")?;
    let options = ConvertOptions::with_domains(args.acon_domains);
    // A broken graph or an invalid ACON node is refused here as everywhere.
    acon_onnx::validate(&model, &options)
        .with_context(|| format!("inspect `{}`", args.model.display()))?;
    let mut report = inspect::inspect(&model, &args.model.display().to_string(), &options);
    if args.flops {
        let dims = args.dims.into_iter().collect();
        report = report.with_flops(&model, &dims, &options);
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text_with_hint(Some("set it with --dim")));
    }
    Ok(ExitCode::SUCCESS)
}

fn zoo_model(args: ZooArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let (arch, act) = (zoo::Arch::from(args.arch), zoo::Activation::from(args.act));
    let mut options = zoo::ZooOptions::new(arch, act);
    options.width = args.width;
    options.resolution = args.resolution;
    options.seed = args.seed;
    options.standard = args.standard;
    options.batch = match args.batch.parse() {
        Ok(n) => zoo::BatchDim::Fixed(n),
        Err(_) => zoo::BatchDim::Symbol(args.batch.clone()),
    };
    let model = zoo::build(&options).with_context(|| format!("zoo {arch}"))?;
    let save = SaveOptions {
        overwrite: args.force,
        ..Default::default()
    };
    acon_onnx::save(&model, &args.output, save).context("zoo")?;
    let params =
        acon_onnx::inspect::flops::count(&model, &Default::default(), &ConvertOptions::default());
    println!(
        "{} {} width {} -> {}: {} parameters, {} multiply-adds, in {:.1} ms",
        arch,
        act.name(),
        options.width(),
        args.output.display(),
        acon_onnx::inspect::flops::human(params.parameters),
        acon_onnx::inspect::flops::human(params.multiply_adds),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
}

/// `verify`, `run` and `bench`: the commands that run models with tract.
#[cfg(feature = "tract")]
mod tract_cli {
    use std::path::PathBuf;
    use std::process::ExitCode;

    use anyhow::{Context, Result, bail};
    use clap::Args;

    use acon_onnx::ConvertOptions;
    use acon_onnx::compare::Tolerance;
    use acon_onnx::tract::error::ReportFormat;
    use acon_onnx::tract::inputs::{DimSpec, InputFile, InputOptions, RangeSpec};
    use acon_onnx::tract::{
        BenchOptions, Error, OptionError, RunOptions, VerifyOptions, VerifyReport,
    };

    /// An error of verify, run, bench or the NNEF export in terms of the
    /// flags (and commands) that fix it, when the command line knows better.
    pub fn in_flag_terms(e: &Error) -> Option<String> {
        match e {
            Error::Library(e) => super::library_in_flag_terms(e),
            Error::Option(e) => Some(option_in_flag_terms(e)),
            Error::NotImplemented {
                node,
                looks_like_acon: true,
            } => Some(format!(
                "{node}: tract has no implementation of this op (if it is an ACON op, pass \
                 `--acon-domain {}`)",
                node.domain
            )),
            Error::AconInConverted { .. } => {
                Some(format!("{e} (run `acon-onnx convert` on it first)"))
            }
            Error::SwishAlpha { .. } => Some(format!("{e} (run `acon-onnx convert` on it)")),
            Error::OutputNotFolder { path } => Some(format!(
                "-o `{}` exists and is not a folder (name a folder, or a file ending in .npz)",
                path.display()
            )),
            Error::Report { format, .. } => Some(
                match format {
                    ReportFormat::Json => "--report",
                    ReportFormat::Junit => "--junit",
                }
                .to_owned(),
            ),
            _ => None,
        }
    }

    /// An option error of verify, run or bench, in terms of their flags.
    pub fn option_in_flag_terms(e: &OptionError) -> String {
        match e {
            OptionError::TwoSources => {
                "give inputs either with --input or with --data, not both".into()
            }
            OptionError::NoSamples => "--samples must be at least 1".into(),
            OptionError::UnknownRangeInput { name, inputs } => {
                format!("--range names `{name}`, which is not an input ({inputs})")
            }
            OptionError::NoIntegerInRange { input } => {
                format!("the --range of input `{input}` holds no integer")
            }
            OptionError::UnknownDim { name, symbols } => {
                format!("--dim names `{name}`, which no input uses (symbolic dims: {symbols})")
            }
            OptionError::InputNotGiven {
                input,
                type_name,
                shape,
            } => format!(
                "input `{input}` ({type_name} {shape}) is not given; with --input every input \
                 needs a file"
            ),
            OptionError::UnnamedFile {
                path,
                count,
                inputs,
            } => format!(
                "`{}` names no input, and the model has {count} ({inputs}): give --input NAME={}",
                path.display(),
                path.display()
            ),
            OptionError::DataNotFolder { path } => {
                format!("--data `{}` is not a folder", path.display())
            }
            OptionError::NoDataSets { path } => format!(
                "--data `{}` holds neither input_0.pb nor test_data_set_* folders",
                path.display()
            ),
            OptionError::NoDeclaredShape { .. } => {
                format!("{e}; give it with --input or --data")
            }
            OptionError::TooMuchRandomData { .. } => {
                format!("{e}; set its symbolic dims with --dim or give data")
            }
            OptionError::OutputsOfSeveralSamples { samples } => format!(
                "-o writes the outputs of one sample, and the inputs give {samples}; pass one \
                 test_data_set folder or --samples 1"
            ),
            OptionError::NoThreads => "--threads must be at least 1".into(),
            OptionError::NoRuns => "--runs must be at least 1".into(),
        }
    }

    /// Where the inputs come from; shared by verify, run and bench.
    #[derive(Args)]
    pub struct InputArgs {
        /// Input data: NAME=FILE.npy, or FILE.npz with arrays named after the
        /// inputs (repeatable). Every input must then be given.
        #[arg(long = "input", value_name = "NAME=FILE.npy|FILE.npz")]
        files: Vec<InputFile>,
        /// A test_data_set_N folder (input_K.pb; output_K.pb are expected
        /// outputs) or a folder of them (repeatable).
        #[arg(long = "data", value_name = "DIR", conflicts_with = "files")]
        data: Vec<PathBuf>,
        /// Seed of the random inputs used when no --input or --data is given.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Range of the random values: LO,HI for every input, or NAME=LO,HI
        /// (repeatable) [default: -3,3; integers 0,10].
        #[arg(
            long = "range",
            value_name = "[NAME=]LO,HI",
            allow_hyphen_values = true
        )]
        ranges: Vec<RangeSpec>,
        /// The value of a symbolic input dim (repeatable; unset ones are 1).
        #[arg(long = "dim", value_name = "NAME=VALUE")]
        dims: Vec<DimSpec>,
        /// Also treat nodes of this domain as ACON ops (repeatable; `acon` always is).
        #[arg(long = "acon-domain", value_name = "NAME")]
        acon_domains: Vec<String>,
    }

    impl InputArgs {
        fn options(&self, samples: usize) -> InputOptions {
            InputOptions {
                files: self.files.clone(),
                data: self.data.clone(),
                seed: self.seed,
                ranges: self.ranges.clone(),
                samples,
                dims: self.dims.clone(),
            }
        }

        fn convert_options(&self) -> ConvertOptions {
            ConvertOptions::with_domains(self.acon_domains.clone())
        }
    }

    #[derive(Args)]
    pub struct VerifyArgs {
        /// The model with ACON ops (custom ops or functions); runs on the native kernels.
        original: PathBuf,
        /// Its conversion [default: ORIGINAL converted in memory]; runs on plain tract.
        converted: Option<PathBuf>,
        #[command(flatten)]
        inputs: InputArgs,
        /// How many random input samples (seeds SEED, sample 0..N).
        #[arg(long, default_value_t = 1)]
        samples: usize,
        /// Named tolerance: exact, close or approximate (bounds per float type
        /// in docs/verify.md) [default: close, widened end to end by the
        /// model's own rounding noise].
        #[arg(long)]
        tolerance: Option<Tolerance>,
        /// Absolute tolerance, replacing the level's for every type.
        #[arg(long)]
        atol: Option<f64>,
        /// Relative tolerance, replacing the level's for every type.
        #[arg(long)]
        rtol: Option<f64>,
        /// Compare the outputs only: no local proof of each ACON region, no
        /// structure check.
        #[arg(long)]
        outputs_only: bool,
        /// Write the report as JSON (schema in docs/verify.md).
        #[arg(long, value_name = "FILE.json")]
        report: Option<PathBuf>,
        /// Write a JUnit XML report, one test case per output.
        #[arg(long, value_name = "FILE.xml")]
        junit: Option<PathBuf>,
    }

    pub fn verify(args: VerifyArgs) -> Result<ExitCode> {
        for (flag, value) in [("--atol", args.atol), ("--rtol", args.rtol)] {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                bail!("{flag} is {v}, expected a finite number ≥ 0");
            }
        }
        let options = VerifyOptions {
            convert: args.inputs.convert_options(),
            inputs: args.inputs.options(args.samples),
            tolerance: args.tolerance.unwrap_or(Tolerance::Close),
            atol: args.atol,
            rtol: args.rtol,
            // Asked for nothing: the model's own noise widens the bounds.
            calibrate: args.tolerance.is_none() && args.atol.is_none() && args.rtol.is_none(),
            outputs_only: args.outputs_only,
        };
        let converted = args.converted.as_deref();
        let write = |report: &VerifyReport| -> Result<()> {
            if let Some(path) = &args.report {
                report.write_json(path)?;
            }
            if let Some(path) = &args.junit {
                report.write_junit(path)?;
            }
            Ok(())
        };
        match acon_onnx::tract::verify(&args.original, converted, &options) {
            Ok(report) => {
                print!("{}", report.to_table());
                write(&report)?;
                Ok(if report.equivalent {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            Err(err) => {
                // CI still gets its reports, saying why nothing was compared
                // as the user is told.
                let err = anyhow::Error::from(err);
                let why = super::explain(&err);
                let report = VerifyReport::failed_to_run(&args.original, converted, &options, &why);
                if let Err(e) = write(&report) {
                    eprintln!("warning: {}", super::explain(&e));
                }
                Err(err.context(format!("verify `{}`", args.original.display())))
            }
        }
    }

    #[derive(Args)]
    pub struct RunArgs {
        /// The model: ACON custom ops, ACON functions or standard ops.
        model: PathBuf,
        #[command(flatten)]
        inputs: InputArgs,
        /// Write the outputs: a folder gets one <output>.npy each, a path
        /// ending in .npz one archive.
        #[arg(short, long, value_name = "DIR|FILE.npz")]
        output: Option<PathBuf>,
        /// Threads for tract's executor: matrix products, and element-wise,
        /// reduce and ACON ops above 32,768 elements.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    }

    pub fn run(args: RunArgs) -> Result<ExitCode> {
        acon_onnx::tract::bench::set_threads(args.threads)?;
        let options = RunOptions {
            convert: args.inputs.convert_options(),
            inputs: args.inputs.options(1),
            output: args.output.clone(),
        };
        let report = acon_onnx::tract::run(&args.model, &options)
            .with_context(|| format!("run `{}`", args.model.display()))?;
        print!("{}", report.to_text());
        Ok(ExitCode::SUCCESS)
    }

    #[derive(Args)]
    pub struct BenchArgs {
        /// The model to time.
        model: PathBuf,
        /// A second model, run alternately on the same inputs; prints the
        /// latency ratio OTHER/MODEL round by round.
        #[arg(long, value_name = "OTHER")]
        vs: Option<PathBuf>,
        #[command(flatten)]
        inputs: InputArgs,
        /// Timed runs (per model).
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Untimed runs first (per model).
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Threads for tract's executor: matrix products, and element-wise,
        /// reduce and ACON ops above 32,768 elements.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Run both models on plain tract, as exported: recognised ACON blocks
        /// stay standard ops instead of taking the native kernels.
        #[arg(long)]
        plain: bool,
        /// With --plain, OTHER still runs recognised blocks and custom ops on
        /// the native kernels (a model timed with and without them: pass it
        /// as MODEL and OTHER).
        #[arg(long, requires_all = ["plain", "vs"])]
        vs_native: bool,
    }

    pub fn bench(args: BenchArgs) -> Result<ExitCode> {
        let options = BenchOptions {
            convert: args.inputs.convert_options(),
            inputs: args.inputs.options(1),
            runs: args.runs,
            warmup: args.warmup,
            vs: args.vs.clone(),
            threads: args.threads,
            plain: args.plain,
            vs_native: args.vs_native,
        };
        let report = acon_onnx::tract::bench(&args.model, &options)
            .with_context(|| format!("bench `{}`", args.model.display()))?;
        print!("{}", report.to_text());
        Ok(ExitCode::SUCCESS)
    }
}
