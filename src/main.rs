//! The `acon-onnx` command line: parses arguments, calls the library, prints
//! reports and turns the outcome into an exit code (0 success, 1 `verify`
//! found a difference, 2 any error, printed as a cause chain).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use acon_onnx::{ConvertOptions, SaveOptions, inspect};

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
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
        Err(_) => ExitCode::from(2),
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Convert(args) => convert(args),
        Command::Inspect(args) => inspect_model(args),
    }
}

fn default_output(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    input.with_file_name(format!("{stem}.converted.onnx"))
}

fn convert(args: ConvertArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.input));
    let mut options = ConvertOptions::with_domains(args.acon_domains);
    options.skip_passes = args.skip_passes;
    let report = acon_onnx::convert_file(
        &args.input,
        &output,
        &options,
        SaveOptions {
            overwrite: args.force,
        },
    )
    .with_context(|| format!("convert `{}`", args.input.display()))?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
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
    println!(
        "{} -> {}: rewrote {rewritten}, added {} nodes, in {:.1} ms",
        args.input.display(),
        output.display(),
        report.nodes_added,
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
}

fn inspect_model(args: InspectArgs) -> Result<ExitCode> {
    let model = acon_onnx::load(&args.model).context("inspect")?;
    let options = ConvertOptions::with_domains(args.acon_domains);
    let report = inspect::inspect(&model, &args.model.display().to_string(), &options);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
