//! `docs/seed-table.md`: the paper's table of FLOPs and parameters beside
//! the zoo's, for ReLU and Meta-ACON. Every figure of ours is counted by
//! [`crate::inspect::flops`] on a model built by [`super::build`], the same code
//! `inspect --flops` and `acon-onnx zoo` run.

use std::fmt::Write as _;

use super::{Activation, Arch, ZooOptions, build};
use crate::error::Error;
use crate::inspect::flops::{self, FlopsReport};
use crate::passes::ConvertOptions;

/// One row of the paper's table (Ma et al., CVPR 2021, Table 5), in millions.
#[derive(Debug, Clone, Copy)]
pub struct PaperRow {
    pub label: &'static str,
    pub arch: Arch,
    pub width: f64,
    pub relu_flops: f64,
    pub relu_params: f64,
    pub meta_flops: f64,
    pub meta_params: f64,
}

const fn row(
    label: &'static str,
    arch: Arch,
    width: f64,
    relu: (f64, f64),
    meta: (f64, f64),
) -> PaperRow {
    PaperRow {
        label,
        arch,
        width,
        relu_flops: relu.0,
        relu_params: relu.1,
        meta_flops: meta.0,
        meta_params: meta.1,
    }
}

/// The paper's figures: multiply-adds at 224×224, 1000 classes.
pub const PAPER: [PaperRow; 10] = [
    row(
        "MobileNetV1 0.25",
        Arch::MobileNetV1,
        0.25,
        (41.0, 0.5),
        (41.0, 0.6),
    ),
    row(
        "MobileNetV2 0.17",
        Arch::MobileNetV2,
        0.17,
        (42.0, 1.4),
        (42.0, 1.9),
    ),
    row(
        "ShuffleNetV2 0.5x",
        Arch::ShuffleNetV2,
        0.5,
        (41.0, 1.4),
        (41.0, 1.7),
    ),
    row(
        "MobileNetV1 0.75",
        Arch::MobileNetV1,
        0.75,
        (325.0, 2.6),
        (326.0, 3.1),
    ),
    row(
        "MobileNetV2 1.0",
        Arch::MobileNetV2,
        1.0,
        (299.0, 3.5),
        (299.0, 3.9),
    ),
    row(
        "ShuffleNetV2 1.5x",
        Arch::ShuffleNetV2,
        1.5,
        (301.0, 3.4),
        (304.0, 6.0),
    ),
    row(
        "ResNet-18",
        Arch::Resnet18,
        1.0,
        (1800.0, 11.7),
        (1800.0, 11.9),
    ),
    row(
        "ResNet-50",
        Arch::Resnet50,
        1.0,
        (3900.0, 25.5),
        (3900.0, 25.7),
    ),
    row(
        "ResNet-101",
        Arch::Resnet101,
        1.0,
        (7300.0, 44.1),
        (7300.0, 44.1),
    ),
    row(
        "ResNet-152",
        Arch::Resnet152,
        1.0,
        (11300.0, 60.0),
        (11300.0, 60.1),
    ),
];

/// The tolerance the table is held to.
pub const TOLERANCE: f64 = 0.05;

/// Counts one zoo model at 224×224, batch 1, seed 0.
pub fn count(arch: Arch, width: f64, activation: Activation) -> Result<FlopsReport, Error> {
    let mut options = ZooOptions::new(arch, activation);
    options.width = Some(width);
    let model = build(&options)?;
    Ok(flops::count(
        &model,
        &Default::default(),
        &ConvertOptions::default(),
    ))
}

/// Whether `ours` (in millions) matches the paper's figure: within
/// [`TOLERANCE`], or the same once rounded as the paper prints it (one
/// decimal of M for parameters, of G for the ResNets' FLOPs, whole M for
/// the other FLOPs).
pub fn matches(paper: f64, ours_millions: f64, digits_of_millions: f64) -> bool {
    let rounded = (ours_millions / digits_of_millions).round() * digits_of_millions;
    (ours_millions / paper - 1.0).abs() <= TOLERANCE || (rounded - paper).abs() < 1e-9
}

/// `ours` against `paper`: the figure, and the relative difference, marked
/// ✗ when it does not match (see [`matches`]) and ≈ when it matches only
/// once rounded.
fn cell(paper: f64, ours_millions: f64, unit_g: bool, step: f64) -> String {
    let diff = ours_millions / paper - 1.0;
    let mark = if !matches(paper, ours_millions, step) {
        " ✗"
    } else if diff.abs() > TOLERANCE {
        ", ≈ once rounded"
    } else {
        ""
    };
    let fmt = |v: f64| {
        if unit_g {
            format!("{:.2}G", v / 1000.0)
        } else {
            format!("{v:.1}M")
        }
    };
    let ours = if unit_g {
        format!("{:.2}G", ours_millions / 1000.0)
    } else if ours_millions < 10.0 {
        format!("{ours_millions:.2}M")
    } else {
        format!("{ours_millions:.1}M")
    };
    format!("{} / {ours} ({:+.1}%{mark})", fmt(paper), diff * 100.0)
}

/// The whole document.
pub fn markdown() -> Result<String, Error> {
    let mut s = String::new();
    s.push_str(HEADER);
    s.push_str(
        "| network | ReLU FLOPs | ReLU params | Meta-ACON FLOPs | Meta-ACON params | \
         Meta-ACON nodes |\n|---|---|---|---|---|---|\n",
    );
    let mut exact = String::new();
    for r in PAPER {
        let relu = count(r.arch, r.width, Activation::Relu)?;
        let meta = count(r.arch, r.width, Activation::MetaAcon)?;
        let big = r.relu_flops >= 1000.0;
        let flops_step = if big { 100.0 } else { 1.0 };
        let m = |n: u64| n as f64 / 1e6;
        let acon_nodes: usize = meta
            .matrix_ops
            .iter()
            .filter(|o| o.op_type == "MetaAconC")
            .map(|o| o.nodes)
            .sum();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {acon_nodes} |",
            r.label,
            cell(r.relu_flops, m(relu.multiply_adds), big, flops_step),
            cell(r.relu_params, m(relu.parameters), false, 0.1),
            cell(r.meta_flops, m(meta.multiply_adds), big, flops_step),
            cell(r.meta_params, m(meta.parameters), false, 0.1),
        );
        let _ = writeln!(
            exact,
            "| {} | `zoo {} --width {}` | {} | {} | {} | {} |",
            r.label,
            r.arch,
            r.width,
            relu.multiply_adds,
            relu.parameters,
            meta.multiply_adds,
            meta.parameters
        );
    }
    s.push_str(LEGEND);
    s.push_str(
        "\n## Exact counts\n\n| network | command | ReLU multiply-adds | ReLU params | \
         Meta-ACON multiply-adds | Meta-ACON params |\n|---|---|---|---|---|---|\n",
    );
    s.push_str(&exact);
    s.push_str(NOTES);
    Ok(s)
}

const HEADER: &str = "\
# The seed table, reproduced

<!-- Generated by `cargo run --release -- zoo-table > docs/seed-table.md`
     (a hidden subcommand); do not edit by hand. -->

The ACON paper (Ma et al., \"Activate or Not: Learning Customized
Activation\", CVPR 2021) compares ReLU and Meta-ACON across ten ImageNet
networks. `acon-onnx zoo` builds each of them; this table puts the paper's
FLOPs and parameter counts beside ours, counted by the same code as
`acon-onnx inspect --flops` on the models `acon-onnx zoo ARCH --width W
--act relu|meta-acon` writes (224×224, batch 1, 1000 classes, ACON as
`acon::MetaAconC` custom ops).

Each cell reads *paper / ours (difference)*. A figure matches when it is
within 5% of the paper's, or equal to it once rounded as the paper prints
it (marked ≈: 0.47M is the paper's 0.5M). ✗ marks a figure that does not
match; each is explained under *Rows that do not match*.

";

const LEGEND: &str = "
- **FLOPs** are multiply-adds of Conv, Gemm and MatMul, plus the two 1×1
  convolutions inside each `MetaAconC` (on the pooled `[N, C, 1, 1]`
  tensor), as the paper counts them. Element-wise, pooling and reduction
  work is reported by `inspect --flops` on lines of its own and is not
  included here.
- **Params** are learnable parameters: every float initializer except
  BatchNorm running means and variances (buffers in PyTorch, not counted by
  the paper). Zoo convolutions have no bias, since BatchNorm follows each
  one; the authors' ACON code keeps `bias=True`, which adds about 0.1% (for
  example 26,560 parameters at ResNet-50).
";

const NOTES: &str = "
## Where the ACON goes

Swish (`--act swish`, `acon::AconA` with β = 1) and ACON-C (`--act acon-c`)
use the same places as Meta-ACON; every other activation stays ReLU.

| network | Meta-ACON places | reduction r (R = max(r, C/r)) | source |
|---|---|---|---|
| ResNet-50/101/152 | after each bottleneck's 3×3 conv (+BN) | 16 | authors' `resnet_metaacon.py` |
| ResNet-18 | both activations of each basic block (after conv1+BN, after the residual add) | 16 | our choice: both convs of a basic block are 3×3; one place per block would give 11.79M params against the paper's 11.9M |
| ShuffleNetV2 | every activation (first conv, both 1×1 convs of each main branch, the projection branch, the last conv) | 8 at 0.5x, 16 otherwise | authors' `network.py` |
| MobileNetV1 | every activation (stem, each depthwise and pointwise conv) | 8 at width ≤ 0.5, 16 otherwise | our choice, matches the paper's parameters at both widths |
| MobileNetV2 | the stem's and the 1280-channel head's activations; the inverted residual blocks keep ReLU6 | 8 at width ≤ 0.5, 16 otherwise | our choice, see below |

All `MetaAconC` nodes carry both BatchNorm groups (after each 1×1 conv), as
the authors' `acon.py` has them.

## Weights

- Convolutions and the classifier use PyTorch's default
  `kaiming_uniform_(a=√5)`, drawn from a seeded splitmix64 stream.
- BatchNorm running statistics look trained: the running variance is an
  estimate of the variance the layer sees, within ±25%, so activations keep
  their scale through 150 layers instead of fading or exploding, and
  folding BatchNorm still changes every weight.
- ACON-C and Meta-ACON draw p1 ~ N(1, 0.25) and p2 ~ N(0, 0.25), near the
  ReLU-like point, rather than the official N(0, 1) (a starting point for
  training, which in a random network makes the signal explode).
- The activations' own parameters come from a second stream, so `--act
  relu` and `--act meta-acon` models of the same `--seed` share every other
  weight, byte for byte (`tests/zoo.rs` checks it).

## Architectures

- **ResNets** put the stride of a downsampling bottleneck on its first 1×1
  conv, as the original ResNet and the authors' `resnet_metaacon.py` do.
  torchvision's v1.5 (stride on the 3×3 conv) costs 4.09G multiply-adds at
  ResNet-50, 5% above the paper's 3.9G; v1 gives 3.86G.
- **ShuffleNetV2** follows the authors' `network.py` (a stride-2 unit's
  projection branch keeps its input's channels). It ends with global
  average pooling instead of `AvgPool2d(7)`, the same at 224×224 and valid
  at other resolutions.
- **MobileNetV2** follows torchvision (`make_divisible(c·width, 8)`, the
  1280-channel head kept below width 1, ReLU6).
- **MobileNetV1** scales channels as TF-slim does, `max(⌊c·width⌋, 8)`.

## Rows that do not match

- **MobileNetV2 0.17, FLOPs (42M in the paper, 32M here).** The parameters
  match (1.45M against 1.4M), and they are dominated by the 1280-channel
  head and the classifier, so the network is the right size where it
  counts; the FLOPs depend on how the narrow layers are rounded, and none
  of the variants we tried gives 42M with 1.4M parameters. With torchvision's
  rounding to multiples of 8 the thin layers have 8–56 channels and the
  network costs 32.0M multiply-adds. Leaving the stem at 32 channels gives
  45.3M, rounding to multiples of 4 gives 21.0M, no rounding 16.9M. The
  paper does not say which variant it used, so we keep torchvision's.
- **MobileNetV2, Meta-ACON placement.** The paper's parameter increase is
  +0.5M at width 0.17 and +0.4M at width 1.0. Meta-ACON on every
  activation would add +1.44M at width 1.0 (4.94M in all, 27% above the
  paper), on every depthwise output +0.61M (4.12M, 6% above); at width 0.17
  all layers but the head are so thin that only the 1280-channel head can
  hold +0.4M or more, and only with r = 8 (R = 160). The stem and head,
  with r = 8 at width 0.17 and r = 16 at width 1.0, give 1.86M and 3.72M,
  both within 5%.
- **ShuffleNetV2 1.5x, Meta-ACON params (6.0M in the paper, 3.94M here).**
  The authors' `network.py` at 1.5x (r = 16, Meta-ACON at every
  activation, the placement reproduced here) adds 0.43M parameters, while
  the paper reports +2.6M. The paper's +3M multiply-adds (301M → 304M)
  fits +2.6M parameters spent in 1×1 convs on pooled, 1×1 tensors (one
  multiply-add per weight), so the trained model must have had much wider
  Meta-ACON bottlenecks: r = 2 everywhere gives 6.33M parameters and 301.7M
  multiply-adds. The 0.5x row (r = 8 in the same code) matches, so we keep
  the released code's r = 16 and do not guess the reduction behind the
  1.5x figure.
- **ResNet-101, Meta-ACON params (44.1M in the paper, 44.90M here, within
  5%).** The paper gives 44.1M for both ReLU and Meta-ACON, while every
  other ResNet grows (ResNet-18 +0.2M, ResNet-50 +0.2M, ResNet-152
  +0.1M). The authors' code adds Meta-ACON to all 33 bottlenecks: 0.35M
  parameters, between ResNet-50's 0.19M (16 bottlenecks) and ResNet-152's
  0.49M (50 bottlenecks). The repeated 44.1M is most likely a misprint. The
  paper's ReLU ResNet-101 (44.1M) is also below the standard 44.55M of
  torchvision and the original ResNet.
- **ResNet-101 FLOPs** (7.3G in the paper, 7.57G here, within 5%): the
  original ResNet paper gives 7.6G; 7.3G matches no ResNet-101 variant we
  know of.
";
