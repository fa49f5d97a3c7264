//! ShuffleNetV2 (Ma et al. 2018) in the layout of the ACON authors'
//! `network.py`: a stride-2 unit's projection branch keeps the input's
//! channels and its main branch makes up the rest; every activation is an
//! ACON slot. The channel shuffle is written torchvision's way, at the end
//! of each unit (Reshape, Transpose, Reshape) with `Split` at the start of
//! a stride-1 unit; it differs from `network.py`'s shuffle-then-slice only
//! by a fixed permutation of channels, which random weights do not see.

use super::{Builder, Value};

pub(super) fn v2(b: &mut Builder, width: f64) -> Result<Value, String> {
    let channels: [usize; 5] = match width {
        0.5 => [24, 48, 96, 192, 1024],
        1.0 => [24, 116, 232, 464, 1024],
        1.5 => [24, 176, 352, 704, 1024],
        2.0 => [24, 244, 488, 976, 2048],
        _ => {
            return Err(format!(
                "ShuffleNetV2 comes in widths 0.5, 1.0, 1.5 and 2.0, not {width}"
            ));
        }
    };
    let input = Value::input();
    let x = b.conv_bn(
        ["first_conv.0", "first_conv.1"],
        &input,
        channels[0],
        3,
        2,
        1,
    );
    let x = b.slot("first_conv.2", &x);
    let mut x = b.max_pool("maxpool", &x, 3, 2);
    let mut index = 0;
    for (stage, repeats) in [4, 8, 4].into_iter().enumerate() {
        let out = channels[stage + 1];
        for i in 0..repeats {
            let name = format!("features.{index}");
            x = if i == 0 {
                down_unit(b, &name, &x, out)
            } else {
                unit(b, &name, &x)
            };
            index += 1;
        }
    }
    let x = b.conv_bn(["conv_last.0", "conv_last.1"], &x, channels[4], 1, 1, 1);
    Ok(b.slot("conv_last.2", &x))
}

/// pw (slot) → dw stride `stride` → pw-linear → slot.
fn main_branch(
    b: &mut Builder,
    name: &str,
    x: &Value,
    mid: usize,
    out: usize,
    stride: usize,
) -> Value {
    let n = |i: usize| format!("{name}.branch_main.{i}");
    let y = b.conv_bn([&n(0), &n(1)], x, mid, 1, 1, 1);
    let y = b.slot(&n(2), &y);
    let y = b.conv_bn([&n(3), &n(4)], &y, mid, 3, stride, mid);
    let y = b.conv_bn([&n(5), &n(6)], &y, out, 1, 1, 1);
    b.slot(&n(7), &y)
}

fn unit(b: &mut Builder, name: &str, x: &Value) -> Value {
    let (keep, go) = b.split_halves(&format!("{name}.split"), x);
    let main = main_branch(b, name, &go, x.channels / 2, x.channels - keep.channels, 1);
    let y = b.concat(&format!("{name}.concat"), &[&keep, &main]);
    b.channel_shuffle(&format!("{name}.shuffle"), &y)
}

fn down_unit(b: &mut Builder, name: &str, x: &Value, out: usize) -> Value {
    let size = b.size;
    let main = main_branch(b, name, x, out / 2, out - x.channels, 2);
    b.size = size;
    let n = |i: usize| format!("{name}.branch_proj.{i}");
    let inp = x.channels;
    let p = b.conv_bn([&n(0), &n(1)], x, inp, 3, 2, inp);
    let p = b.conv_bn([&n(2), &n(3)], &p, inp, 1, 1, 1);
    let p = b.slot(&n(4), &p);
    let y = b.concat(&format!("{name}.concat"), &[&p, &main]);
    b.channel_shuffle(&format!("{name}.shuffle"), &y)
}
