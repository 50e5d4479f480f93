//! Reading a pulvinar's activity back as pixel values.
//!
//! The cortex predicts in activity; metrics are in frame space, so no setting of the learner
//! can flatter them. The map is calibrated only from plus-phase activity against the pixel
//! value that drove it, never from the prediction itself.

use serde::{Deserialize, Serialize};

/// Pixel-value bins of the decoder.
const BINS: usize = 10;
/// Observations after which a bin's mean becomes a running average (adapts to drift).
const MAX_COUNT: f32 = 200.0;

/// Per-unit monotone map from activity to pixel value.
///
/// For each unit and each of [`BINS`] pixel-value bins it keeps the mean plus-phase activity the
/// unit had when driven by pixels in that bin; decoding inverts the nondecreasing (pooled
/// adjacent violators) fit of those means by linear interpolation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonotoneDecoder {
    units: usize,
    /// Mean activity per unit and bin.
    mean_act: Vec<f32>,
    /// Mean pixel value per unit and bin.
    mean_val: Vec<f32>,
    count: Vec<f32>,
}

impl MonotoneDecoder {
    /// A decoder with no observations (decodes to 0.5 until calibrated).
    pub fn new(units: usize) -> Self {
        Self {
            units,
            mean_act: vec![0.0; units * BINS],
            mean_val: vec![0.0; units * BINS],
            count: vec![0.0; units * BINS],
        }
    }

    /// Adds plus-phase activity `act` observed with driving values `val`.
    pub fn observe(&mut self, act: &[f32], val: &[f32]) {
        for u in 0..self.units.min(act.len()).min(val.len()) {
            let v = val[u].clamp(0.0, 1.0);
            let b = u * BINS + ((v * BINS as f32) as usize).min(BINS - 1);
            let c = (self.count[b] + 1.0).min(MAX_COUNT);
            self.count[b] = c;
            self.mean_act[b] += (act[u] - self.mean_act[b]) / c;
            self.mean_val[b] += (v - self.mean_val[b]) / c;
        }
    }

    /// Units it decodes.
    pub fn units(&self) -> usize {
        self.units
    }

    /// Pixel values for activities `act`.
    pub fn decode(&self, act: &[f32]) -> Vec<f32> {
        let mut out = vec![0.5; act.len()];
        let mut pts: Vec<(f32, f32, f32)> = Vec::with_capacity(BINS);
        for (u, o) in out.iter_mut().enumerate().take(self.units) {
            pts.clear();
            for b in 0..BINS {
                let i = u * BINS + b;
                if self.count[i] > 0.0 {
                    pts.push((self.mean_val[i], self.mean_act[i], self.count[i]));
                }
            }
            *o = invert_monotone(&mut pts, act[u]);
        }
        out
    }
}

/// Pools adjacent violators of `(value, activity, weight)` points sorted by value, so activity
/// is nondecreasing in value, then finds the value at activity `a` (clamped to the ends).
fn invert_monotone(pts: &mut Vec<(f32, f32, f32)>, a: f32) -> f32 {
    if pts.is_empty() {
        return 0.5;
    }
    // Pool adjacent violators: merge blocks while activity decreases.
    let mut blocks: Vec<(f32, f32, f32)> = Vec::with_capacity(pts.len());
    for &(v, m, w) in pts.iter() {
        blocks.push((v * w, m * w, w));
        while blocks.len() > 1 {
            let n = blocks.len();
            let (b1, b2) = (blocks[n - 2], blocks[n - 1]);
            if b1.1 / b1.2 <= b2.1 / b2.2 {
                break;
            }
            blocks[n - 2] = (b1.0 + b2.0, b1.1 + b2.1, b1.2 + b2.2);
            blocks.pop();
        }
    }
    pts.clear();
    pts.extend(blocks.iter().map(|&(v, m, w)| (v / w, m / w, w)));
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    if a <= first.1 {
        return first.0;
    }
    if a >= last.1 {
        return last.0;
    }
    for k in 1..pts.len() {
        let (p0, p1) = (pts[k - 1], pts[k]);
        if a <= p1.1 {
            let span = p1.1 - p0.1;
            let f = if span > 0.0 { (a - p0.1) / span } else { 0.5 };
            return p0.0 + f * (p1.0 - p0.0);
        }
    }
    last.0
}
