//! MobileNetV1 (Howard et al. 2017) and MobileNetV2 (Sandler et al. 2018).
//!
//! V1 is the paper's stack of depthwise-separable blocks, channels
//! `max(⌊c·width⌋, 8)` as TF-slim scales them, ReLU after every conv; every
//! activation is an ACON slot. V2 follows torchvision (channels rounded by
//! `make_divisible(c·width, 8)`, a 1280-channel head kept at widths below
//! 1, ReLU6, residuals where shapes allow); its ACON slots are the stem's
//! and the head's activations (see the module doc of `zoo` for why).

use super::{Builder, Value, make_divisible};

const V1_BLOCKS: [(usize, usize); 13] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
];

pub(super) fn v1(b: &mut Builder, width: f64) -> Value {
    let ch = |c: usize| ((c as f64 * width) as usize).max(8);
    let input = Value::input();
    let x = b.conv_bn(["stem.conv", "stem.bn"], &input, ch(32), 3, 2, 1);
    let mut x = b.slot("stem.act", &x);
    for (i, &(c, stride)) in V1_BLOCKS.iter().enumerate() {
        let name = format!("blocks.{i}");
        let groups = x.channels;
        let y = b.conv_bn(
            [&format!("{name}.dw.conv"), &format!("{name}.dw.bn")],
            &x,
            x.channels,
            3,
            stride,
            groups,
        );
        let y = b.slot(&format!("{name}.dw.act"), &y);
        let y = b.conv_bn(
            [&format!("{name}.pw.conv"), &format!("{name}.pw.bn")],
            &y,
            ch(c),
            1,
            1,
            1,
        );
        x = b.slot(&format!("{name}.pw.act"), &y);
    }
    x
}

/// (expansion t, channels c, repeats n, first stride s) of the V2 paper.
const V2_STAGES: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

pub(super) fn v2(b: &mut Builder, width: f64) -> Value {
    b.relu6 = true;
    let input = Value::input();
    let stem = make_divisible(32.0 * width, 8);
    let last = make_divisible(1280.0 * width.max(1.0), 8);
    let x = b.conv_bn(["features.0.0", "features.0.1"], &input, stem, 3, 2, 1);
    let mut x = b.slot("features.0.2", &x);
    let mut index = 1;
    for &(t, c, n, s) in &V2_STAGES {
        let out = make_divisible(c as f64 * width, 8);
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            x = inverted_residual(b, &format!("features.{index}"), &x, out, stride, t);
            index += 1;
        }
    }
    let name = format!("features.{index}");
    let x = b.conv_bn(
        [&format!("{name}.0"), &format!("{name}.1")],
        &x,
        last,
        1,
        1,
        1,
    );
    b.slot(&format!("{name}.2"), &x)
}

fn inverted_residual(
    b: &mut Builder,
    name: &str,
    x: &Value,
    out: usize,
    stride: usize,
    expand: usize,
) -> Value {
    let hidden = x.channels * expand;
    let mut y = x.clone();
    let mut layer = 0;
    let mut next = |what: &str| {
        let n = format!("{name}.conv.{layer}.{what}");
        if what == "act" {
            layer += 1;
        }
        n
    };
    if expand != 1 {
        let (c, n) = (next("0"), next("1"));
        y = b.conv_bn([&c, &n], &y, hidden, 1, 1, 1);
        y = b.relu(&next("act"), &y);
    }
    let (c, n) = (next("0"), next("1"));
    y = b.conv_bn([&c, &n], &y, hidden, 3, stride, hidden);
    y = b.relu(&next("act"), &y);
    let (c, n) = (next("project"), next("project_bn"));
    y = b.conv_bn([&c, &n], &y, out, 1, 1, 1);
    if stride == 1 && x.channels == out {
        y = b.add(&format!("{name}.add"), &y, x);
    }
    y
}
