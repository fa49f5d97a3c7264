//! ResNet-18/50/101/152 (He et al. 2016) with torchvision's module names.
//! Bottlenecks put the stride on their first 1×1 conv, as the original
//! paper and the ACON authors' `resnet_metaacon.py` do (torchvision's v1.5
//! moves it to the 3×3 conv, which costs 6% more multiply-adds at
//! ResNet-50). The ACON slot is the activation after each bottleneck's
//! 3×3 conv; a basic block (ResNet-18) has two 3×3 convs and both of its
//! activations are slots.

use super::{Arch, Builder, Value};

pub(super) fn resnet(b: &mut Builder, arch: Arch) -> Value {
    let (layers, bottleneck): ([usize; 4], bool) = match arch {
        Arch::Resnet18 => ([2, 2, 2, 2], false),
        Arch::Resnet50 => ([3, 4, 6, 3], true),
        Arch::Resnet101 => ([3, 4, 23, 3], true),
        Arch::Resnet152 => ([3, 8, 36, 3], true),
        _ => unreachable!("not a ResNet: {arch}"),
    };
    let input = Value::input();
    let x = b.conv_bn(["conv1", "bn1"], &input, 64, 7, 2, 1);
    let x = b.relu("relu", &x);
    let mut x = b.max_pool("maxpool", &x, 3, 2);
    for (i, (&blocks, planes)) in layers.iter().zip([64, 128, 256, 512]).enumerate() {
        for j in 0..blocks {
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            let name = format!("layer{}.{j}", i + 1);
            x = if bottleneck {
                bottleneck_block(b, &name, &x, planes, stride)
            } else {
                basic_block(b, &name, &x, planes, stride)
            };
        }
    }
    x
}

fn downsample(b: &mut Builder, name: &str, x: &Value, cout: usize, stride: usize) -> Value {
    if stride == 1 && x.channels == cout {
        return x.clone();
    }
    let size = b.size;
    // The shortcut starts from the block input, before the block's convs
    // changed `size`.
    b.size = size * stride;
    b.conv_bn(
        [
            &format!("{name}.downsample.0"),
            &format!("{name}.downsample.1"),
        ],
        x,
        cout,
        1,
        stride,
        1,
    )
}

fn basic_block(b: &mut Builder, name: &str, x: &Value, planes: usize, stride: usize) -> Value {
    let y = b.conv_bn(
        [&format!("{name}.conv1"), &format!("{name}.bn1")],
        x,
        planes,
        3,
        stride,
        1,
    );
    let y = b.slot(&format!("{name}.act1"), &y);
    let y = b.conv_bn(
        [&format!("{name}.conv2"), &format!("{name}.bn2")],
        &y,
        planes,
        3,
        1,
        1,
    );
    let identity = downsample(b, name, x, planes, stride);
    let y = b.add(&format!("{name}.add"), &y, &identity);
    b.slot(&format!("{name}.act2"), &y)
}

fn bottleneck_block(b: &mut Builder, name: &str, x: &Value, planes: usize, stride: usize) -> Value {
    let out = planes * 4;
    let y = b.conv_bn(
        [&format!("{name}.conv1"), &format!("{name}.bn1")],
        x,
        planes,
        1,
        stride,
        1,
    );
    let y = b.relu(&format!("{name}.relu1"), &y);
    let y = b.conv_bn(
        [&format!("{name}.conv2"), &format!("{name}.bn2")],
        &y,
        planes,
        3,
        1,
        1,
    );
    let y = b.slot(&format!("{name}.acon"), &y);
    let y = b.conv_bn(
        [&format!("{name}.conv3"), &format!("{name}.bn3")],
        &y,
        out,
        1,
        1,
        1,
    );
    let identity = downsample(b, name, x, out, stride);
    let y = b.add(&format!("{name}.add"), &y, &identity);
    b.relu(&format!("{name}.relu"), &y)
}
