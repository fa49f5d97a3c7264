//! What both classify examples share: the input they make when given none,
//! and the top-5 classes of a score tensor. tract's types only, so that the
//! NNEF example links nothing of acon-onnx.

use tract_nnef::prelude::*;

/// A fixed, input-independent pattern in [-1, 1] of `shape`: the same
/// numbers on every machine, with no random generator to pull in.
pub fn pattern(shape: &[usize]) -> Tensor {
    let len: usize = shape.iter().product();
    let values: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
    tract_ndarray::ArrayD::from_shape_vec(shape, values)
        .expect("the pattern has the shape's length")
        .into_tensor()
}

/// For each row of `scores` ([batch, classes]), the five best classes, best
/// first, with their scores.
pub fn top5(scores: &Tensor) -> TractResult<Vec<Vec<(usize, f32)>>> {
    let scores = scores.cast_to::<f32>()?;
    let view = scores.to_plain_array_view::<f32>()?;
    let rows = view.into_shape_with_order((scores.shape()[0], scores.len() / scores.shape()[0]))?;
    Ok(rows
        .outer_iter()
        .map(|row| {
            let mut ranked: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(5);
            ranked
        })
        .collect())
}

/// One line per row: `row 0: 7 (3.214) 2 (1.058) …`.
pub fn print(ranked: &[Vec<(usize, f32)>]) {
    for (row, classes) in ranked.iter().enumerate() {
        let classes: Vec<String> = classes
            .iter()
            .map(|(class, score)| format!("{class} ({score:.3})"))
            .collect();
        println!("row {row}: {}", classes.join(" "));
    }
}
