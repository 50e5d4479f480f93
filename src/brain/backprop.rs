//! The backprop baseline: an Elman simple recurrent network trained online.
//!
//! ```text
//! h_t = tanh(W_xh x_t + W_hh h_{t−1} + b_h)        x_t = frame t ‖ action one-hot ‖ senses
//! y_t = σ(W_hy h_t + W_xy x_t + b_y)               y_t: the predicted frame t+1
//! ```
//!
//! `W_xy` (direct input-to-output weights, `skip`) lets the network learn "the next frame
//! looks like this one" without squeezing the frame through the hidden layer; the hidden layer
//! is then free for what changes. Off, it is Elman's network as published.
//!
//! With `residual`, the first `n_out` inputs (frame t, in the output's layout) are added to the
//! output in logit space, `y_t = σ(logit(x_t[..n_out]) + …)`, with the output weights starting
//! at zero: the untrained network predicts "no change" exactly, and learning adds the change.
//!
//! After the outcome arrives, the cross-entropy of `y_t` against it is backpropagated through
//! the last `bptt` steps (truncated BPTT; `bptt: 1` is Elman's original rule, the context
//! treated as an input), recomputing those steps with the current weights from the hidden
//! state that preceded them, so the gradient is exactly that of a defined loss (which the
//! finite-difference test checks). Adam, with the gradient clipped by its norm.
//!
//! Sizes are small (a few hundred thousand weights), so plain slices do; no ML framework.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::error::{BrainError, Result, check_vector};

/// Settings of the backprop learner (scenario syntax `brain: Backprop(...)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackpropParams {
    /// Hidden (context) units. Default 128.
    pub hidden: usize,
    /// Adam step size. Default 0.0005 (searched on walk_room: 0.002 and 0.005 chase the latest
    /// frames and predict worse than copying).
    pub lrate: f32,
    /// Steps the error is propagated back through (1: one-step, Elman's rule). Default 4.
    pub bptt: usize,
    /// Largest gradient norm; larger gradients are scaled down to it. Default 5.
    pub clip: f32,
    /// Direct input-to-output weights. Default true.
    pub skip: bool,
    /// Predict the change: the output starts from the input frame (see the module docs); needs
    /// the output's layout to open the input. Default true.
    pub residual: bool,
    /// Adam's decay of the mean gradient. Default 0.9.
    pub beta1: f32,
    /// Adam's decay of the mean squared gradient. Default 0.999.
    pub beta2: f32,
}

impl Default for BackpropParams {
    fn default() -> Self {
        Self {
            hidden: 128,
            lrate: 0.0005,
            bptt: 4,
            clip: 5.0,
            skip: true,
            residual: true,
            beta1: 0.9,
            beta2: 0.999,
        }
    }
}

impl BackpropParams {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, value: String, reason: &str| {
            Err(BrainError::InvalidParam {
                field: format!("backprop.{field}"),
                value,
                reason: reason.into(),
            })
        };
        if self.hidden == 0 {
            return bad("hidden", "0".into(), "needs at least one unit");
        }
        if !(self.lrate.is_finite() && self.lrate > 0.0) {
            return bad("lrate", self.lrate.to_string(), "must be > 0");
        }
        if self.bptt == 0 {
            return bad("bptt", "0".into(), "must be at least 1");
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return bad("clip", self.clip.to_string(), "must be > 0");
        }
        for (f, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return bad(f, v.to_string(), "must be in [0, 1)");
            }
        }
        Ok(())
    }
}

/// Offsets of the parameter blocks in the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Layout {
    n_in: usize,
    n_h: usize,
    n_out: usize,
    /// Inputs with direct weights to the outputs: `n_in` with `skip`, else 0.
    n_skip: usize,
}

impl Layout {
    fn w_xh(&self) -> std::ops::Range<usize> {
        0..self.n_h * self.n_in
    }
    fn w_hh(&self) -> std::ops::Range<usize> {
        let s = self.w_xh().end;
        s..s + self.n_h * self.n_h
    }
    fn b_h(&self) -> std::ops::Range<usize> {
        let s = self.w_hh().end;
        s..s + self.n_h
    }
    fn w_hy(&self) -> std::ops::Range<usize> {
        let s = self.b_h().end;
        s..s + self.n_out * self.n_h
    }
    fn b_y(&self) -> std::ops::Range<usize> {
        let s = self.w_hy().end;
        s..s + self.n_out
    }
    fn w_xy(&self) -> std::ops::Range<usize> {
        let s = self.b_y().end;
        s..s + self.n_out * self.n_skip
    }
    fn len(&self) -> usize {
        self.w_xy().end
    }
}

/// An Elman network with its optimiser state and its recent inputs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Srn {
    params: BackpropParams,
    layout: Layout,
    /// Every weight and bias, in the blocks of [`Layout`].
    theta: Vec<f32>,
    /// Adam's first and second moments, and its step count.
    m: Vec<f32>,
    v: Vec<f32>,
    steps: u64,
    /// Hidden state after the latest prediction.
    h: Vec<f32>,
    /// The latest prediction.
    y: Vec<f32>,
    /// The last `bptt` inputs, each with the hidden state that preceded it.
    window: VecDeque<(Vec<f32>, Vec<f32>)>,
    /// Scratch for gradients.
    #[serde(skip)]
    grad: Vec<f32>,
}

/// Framing of saved backprop learners.
const FORMAT: super::framing::Format = super::framing::Format {
    magic: b"THETASRN",
    version: 1,
};

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// `out[r] += Σ_c w[r·cols + c] · x[c]`.
fn matvec_add(w: &[f32], x: &[f32], out: &mut [f32]) {
    let cols = x.len();
    for (o, row) in out.iter_mut().zip(w.chunks_exact(cols)) {
        *o += row.iter().zip(x).map(|(a, b)| a * b).sum::<f32>();
    }
}

/// `out[c] += Σ_r w[r·cols + c] · d[r]`.
fn matvec_t_add(w: &[f32], d: &[f32], out: &mut [f32]) {
    let cols = out.len();
    for (&dr, row) in d.iter().zip(w.chunks_exact(cols)) {
        if dr != 0.0 {
            for (o, a) in out.iter_mut().zip(row) {
                *o += a * dr;
            }
        }
    }
}

/// `g[r·cols + c] += d[r] · x[c]`.
fn outer_add(g: &mut [f32], d: &[f32], x: &[f32]) {
    let cols = x.len();
    for (&dr, row) in d.iter().zip(g.chunks_exact_mut(cols)) {
        if dr != 0.0 {
            for (o, xc) in row.iter_mut().zip(x) {
                *o += dr * xc;
            }
        }
    }
}

impl Srn {
    /// A network with `n_in` inputs and `n_out` outputs, weights drawn from `seed`.
    pub fn new(n_in: usize, n_out: usize, params: BackpropParams, seed: u64) -> Result<Self> {
        params.validate()?;
        if params.residual && n_in < n_out {
            return Err(BrainError::InvalidParam {
                field: "backprop.residual".into(),
                value: format!("{n_in} in, {n_out} out"),
                reason: "the input must begin with a frame as large as the output".into(),
            });
        }
        if n_in == 0 || n_out == 0 {
            return Err(BrainError::InvalidParam {
                field: "backprop.size".into(),
                value: format!("{n_in} in, {n_out} out"),
                reason: "needs at least one input and one output".into(),
            });
        }
        let layout = Layout {
            n_in,
            n_h: params.hidden,
            n_out,
            n_skip: if params.skip { n_in } else { 0 },
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut theta = vec![0.0; layout.len()];
        // Uniform ±1/√fan-in (LeCun), recurrent weights a little smaller so the context
        // starts stable.
        let mut fill = |r: std::ops::Range<usize>, scale: f32| {
            for w in &mut theta[r] {
                *w = rng.random_range(-scale..scale);
            }
        };
        fill(layout.w_xh(), 1.0 / (n_in as f32).sqrt());
        fill(layout.w_hh(), 0.5 / (params.hidden as f32).sqrt());
        if !params.residual {
            // Residual networks start with zero output weights: exactly "no change".
            fill(layout.w_hy(), 1.0 / (params.hidden as f32).sqrt());
            fill(layout.w_xy(), 1.0 / (n_in as f32).sqrt());
        }
        let n = theta.len();
        Ok(Self {
            layout,
            theta,
            m: vec![0.0; n],
            v: vec![0.0; n],
            steps: 0,
            h: vec![0.0; params.hidden],
            y: vec![0.5; n_out],
            window: VecDeque::new(),
            grad: vec![0.0; n],
            params,
        })
    }

    /// Inputs it takes.
    pub fn inputs(&self) -> usize {
        self.layout.n_in
    }

    /// Outputs it predicts.
    pub fn outputs(&self) -> usize {
        self.layout.n_out
    }

    /// Weights and biases.
    pub fn num_params(&self) -> usize {
        self.theta.len()
    }

    /// Its settings.
    pub fn params(&self) -> &BackpropParams {
        &self.params
    }

    /// The latest prediction.
    pub fn prediction(&self) -> &[f32] {
        &self.y
    }

    /// The hidden state after the latest prediction.
    pub fn hidden(&self) -> &[f32] {
        &self.h
    }

    /// Forgets the context (hidden state and recent inputs), keeping the weights.
    pub fn reset_context(&mut self) {
        self.h.iter_mut().for_each(|x| *x = 0.0);
        self.window.clear();
    }

    /// One step from `h_prev`: the new hidden state, and the output if `y` is given.
    fn step(&self, x: &[f32], h_prev: &[f32], h: &mut [f32], y: Option<&mut [f32]>) {
        let l = &self.layout;
        h.copy_from_slice(&self.theta[l.b_h()]);
        matvec_add(&self.theta[l.w_xh()], x, h);
        matvec_add(&self.theta[l.w_hh()], h_prev, h);
        h.iter_mut().for_each(|a| *a = a.tanh());
        if let Some(y) = y {
            y.copy_from_slice(&self.theta[l.b_y()]);
            matvec_add(&self.theta[l.w_hy()], h, y);
            if l.n_skip > 0 {
                matvec_add(&self.theta[l.w_xy()], x, y);
            }
            if self.params.residual {
                for (z, &f) in y.iter_mut().zip(x) {
                    let f = f.clamp(0.01, 0.99);
                    *z += (f / (1.0 - f)).ln();
                }
            }
            y.iter_mut().for_each(|z| *z = sigmoid(*z));
        }
    }

    /// Predicts the next frame from input `x`, carrying the context forward.
    pub fn predict(&mut self, x: &[f32]) -> Result<&[f32]> {
        check_vector("backprop input", x, self.layout.n_in)?;
        let h_prev = self.h.clone();
        let mut h = vec![0.0; self.layout.n_h];
        let mut y = std::mem::take(&mut self.y);
        self.step(x, &h_prev, &mut h, Some(&mut y));
        self.y = y;
        self.h = h;
        if self.window.len() == self.params.bptt {
            self.window.pop_front();
        }
        self.window.push_back((x.to_vec(), h_prev));
        Ok(&self.y)
    }

    /// Cross-entropy of the output after running `xs` from `h0`, against `target`, and its
    /// gradient with respect to every parameter (added into `grad`).
    pub fn loss_and_grad(
        &self,
        h0: &[f32],
        xs: &[&[f32]],
        target: &[f32],
        grad: &mut [f32],
    ) -> f64 {
        let l = self.layout;
        // Forward through the window, keeping every hidden state.
        let mut hs: Vec<Vec<f32>> = Vec::with_capacity(xs.len() + 1);
        hs.push(h0.to_vec());
        let mut y = vec![0.0; l.n_out];
        for (k, x) in xs.iter().enumerate() {
            let mut h = vec![0.0; l.n_h];
            let last = k + 1 == xs.len();
            self.step(x, &hs[k], &mut h, last.then_some(&mut y[..]));
            hs.push(h);
        }
        let eps = 1e-7f64;
        let loss: f64 = y
            .iter()
            .zip(target)
            .map(|(&p, &t)| {
                let (p, t) = ((p as f64).clamp(eps, 1.0 - eps), t as f64);
                -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
            })
            .sum();
        // Backward: σ + cross-entropy gives dL/dz = y − t.
        let dz: Vec<f32> = y.iter().zip(target).map(|(p, t)| p - t).collect();
        let h_last = &hs[xs.len()];
        outer_add(&mut grad[l.w_hy()], &dz, h_last);
        for (g, d) in grad[l.b_y()].iter_mut().zip(&dz) {
            *g += d;
        }
        if l.n_skip > 0
            && let Some(x) = xs.last()
        {
            outer_add(&mut grad[l.w_xy()], &dz, x);
        }
        let mut dh = vec![0.0; l.n_h];
        matvec_t_add(&self.theta[l.w_hy()], &dz, &mut dh);
        for k in (0..xs.len()).rev() {
            let h = &hs[k + 1];
            let da: Vec<f32> = dh.iter().zip(h).map(|(d, h)| d * (1.0 - h * h)).collect();
            outer_add(&mut grad[l.w_xh()], &da, xs[k]);
            outer_add(&mut grad[l.w_hh()], &da, &hs[k]);
            for (g, d) in grad[l.b_h()].iter_mut().zip(&da) {
                *g += d;
            }
            if k > 0 {
                dh.iter_mut().for_each(|x| *x = 0.0);
                matvec_t_add(&self.theta[l.w_hh()], &da, &mut dh);
            }
        }
        loss
    }

    /// Learns from the outcome of the latest prediction; returns the loss.
    pub fn learn(&mut self, target: &[f32]) -> Result<f64> {
        check_vector("backprop outcome", target, self.layout.n_out)?;
        let Some((_, h0)) = self.window.front() else {
            return Err(BrainError::Order("learn before predict".into()));
        };
        let mut grad = std::mem::take(&mut self.grad);
        grad.clear();
        grad.resize(self.theta.len(), 0.0);
        let xs: Vec<&[f32]> = self.window.iter().map(|(x, _)| &x[..]).collect();
        let loss = self.loss_and_grad(h0, &xs, target, &mut grad);
        let norm = grad.iter().map(|g| (*g as f64).powi(2)).sum::<f64>().sqrt() as f32;
        if !norm.is_finite() {
            return Err(BrainError::Diverged {
                layer: "backprop".into(),
                var: "gradient",
            });
        }
        let scale = if norm > self.params.clip {
            self.params.clip / norm
        } else {
            1.0
        };
        self.steps += 1;
        let (b1, b2) = (self.params.beta1, self.params.beta2);
        let c1 = 1.0 - b1.powi(self.steps.min(i32::MAX as u64) as i32);
        let c2 = 1.0 - b2.powi(self.steps.min(i32::MAX as u64) as i32);
        let lr = self.params.lrate;
        for (((w, g), m), v) in self
            .theta
            .iter_mut()
            .zip(&grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            let g = g * scale;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *w -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
        self.grad = grad;
        Ok(loss)
    }

    /// The whole learner (weights, optimiser, context) as bytes; see [`Self::from_bytes`].
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        FORMAT.encode(self).map_err(|reason| BrainError::Decode {
            path: "backprop learner".into(),
            reason,
        })
    }

    /// Reads bytes written by [`Self::to_bytes`]; `origin` names them in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let dec = |reason: String| BrainError::Decode {
            path: origin.to_string(),
            reason,
        };
        let mut s: Self = FORMAT.decode(bytes).map_err(dec)?;
        s.params.validate()?;
        if s.theta.len() != s.layout.len() || s.m.len() != s.theta.len() {
            return Err(dec("parameter count does not match the layout".into()));
        }
        s.grad = vec![0.0; s.theta.len()];
        Ok(s)
    }

    #[cfg(test)]
    fn theta_mut(&mut self) -> &mut [f32] {
        &mut self.theta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brain::tasks::{reber_sequence, top_k};

    fn small(bptt: usize) -> Srn {
        small_with(bptt, true, false)
    }

    fn small_with(bptt: usize, skip: bool, residual: bool) -> Srn {
        let p = BackpropParams {
            hidden: 5,
            bptt,
            skip,
            residual,
            ..Default::default()
        };
        Srn::new(4, 3, p, 7).unwrap()
    }

    /// Central differences against the analytic gradient, for every parameter.
    fn check_gradient(bptt: usize, skip: bool, residual: bool) {
        let mut net = small_with(bptt, skip, residual);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Larger weights than at initialisation, so tanh works off its linear part.
        for w in net.theta_mut() {
            *w = rng.random_range(-1.0..1.0);
        }
        let h0: Vec<f32> = (0..5).map(|_| rng.random_range(-0.5..0.5)).collect();
        let xs: Vec<Vec<f32>> = (0..bptt)
            .map(|_| (0..4).map(|_| rng.random_range(0.0..1.0)).collect())
            .collect();
        let xr: Vec<&[f32]> = xs.iter().map(|x| &x[..]).collect();
        let target = [0.9f32, 0.1, 0.6];
        let mut grad = vec![0.0; net.num_params()];
        net.loss_and_grad(&h0, &xr, &target, &mut grad);
        let eps = 1e-2f32;
        let mut worst = 0.0f64;
        for i in 0..net.num_params() {
            let w = net.theta[i];
            net.theta_mut()[i] = w + eps;
            let up = net.loss_and_grad(&h0, &xr, &target, &mut vec![0.0; grad.len()]);
            net.theta_mut()[i] = w - eps;
            let down = net.loss_and_grad(&h0, &xr, &target, &mut vec![0.0; grad.len()]);
            net.theta_mut()[i] = w;
            let numeric = (up - down) / (2.0 * eps as f64);
            let err =
                (numeric - grad[i] as f64).abs() / (numeric.abs() + grad[i].abs() as f64).max(1e-2);
            worst = worst.max(err);
        }
        assert!(
            worst < 1e-2,
            "bptt {bptt} skip {skip}: worst relative error {worst}"
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for bptt in [1, 2, 4] {
            for (skip, residual) in [(false, false), (true, false), (true, true)] {
                check_gradient(bptt, skip, residual);
            }
        }
    }

    #[test]
    fn recurrent_weights_get_gradient_only_through_time() {
        let net = small(3);
        let x = [0.5f32, 0.1, 0.9, 0.3];
        let h0 = [0.0f32; 5];
        let mut g = vec![0.0; net.num_params()];
        // One step from a zero context: W_hh multiplies zeros, so its gradient is zero.
        net.loss_and_grad(&h0, &[&x], &[1.0, 0.0, 1.0], &mut g);
        assert!(g[net.layout.w_hh()].iter().all(|v| *v == 0.0));
        let mut g = vec![0.0; net.num_params()];
        net.loss_and_grad(&h0, &[&x, &x], &[1.0, 0.0, 1.0], &mut g);
        assert!(g[net.layout.w_hh()].iter().any(|v| *v != 0.0));
    }

    #[test]
    fn saved_learner_continues_identically() {
        let mut a = small(2);
        for k in 0..20 {
            let x = [k as f32 % 2.0, 0.5, 0.0, 1.0];
            a.predict(&x).unwrap();
            a.learn(&[0.0, 1.0, (k % 3) as f32 / 2.0]).unwrap();
        }
        let mut b = Srn::from_bytes(&a.to_bytes().unwrap(), "test").unwrap();
        for k in 0..10 {
            let x = [0.3, k as f32 / 10.0, 1.0, 0.0];
            let pa = a.predict(&x).unwrap().to_vec();
            assert_eq!(pa, b.predict(&x).unwrap());
            a.learn(&[1.0, 0.0, 0.5]).unwrap();
            b.learn(&[1.0, 0.0, 0.5]).unwrap();
        }
        assert!(Srn::from_bytes(b"THETANET\x01\0\0\0", "x").is_err());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut a = small(1);
        assert!(a.learn(&[0.0; 3]).is_err(), "learn before predict");
        assert!(a.predict(&[0.0; 3]).is_err());
        assert!(a.predict(&[f32::NAN, 0.0, 0.0, 0.0]).is_err());
        a.predict(&[0.0; 4]).unwrap();
        assert!(a.learn(&[0.0, f32::INFINITY, 0.0]).is_err());
        let p = BackpropParams {
            bptt: 0,
            ..Default::default()
        };
        assert!(Srn::new(4, 3, p, 0).is_err());
        let residual = BackpropParams::default();
        assert!(
            Srn::new(3, 4, residual, 0).is_err(),
            "residual needs a frame in the input"
        );
    }

    #[test]
    fn an_untrained_residual_network_predicts_no_change() {
        let mut a = Srn::new(6, 4, BackpropParams::default(), 1).unwrap();
        let x = [0.2f32, 0.5, 0.9, 0.4, 1.0, 0.0];
        let y = a.predict(&x).unwrap();
        for (p, f) in y.iter().zip(&x) {
            assert!((p - f).abs() < 1e-5, "{p} vs {f}");
        }
    }

    /// Per-epoch errors on the Reber grammar: a prediction errs when its most active output
    /// is not a valid successor. Stops after two error-free epochs of 25 strings.
    pub(crate) fn reber_epochs(seed: u64, params: BackpropParams, epochs: usize) -> Vec<usize> {
        let mut net = Srn::new(7, 7, params, seed).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 1000);
        let onehot = |k: usize| {
            let mut v = [0.0f32; 7];
            v[k] = 1.0;
            v
        };
        let mut out = Vec::new();
        for _ in 0..epochs {
            let mut errs = 0;
            for _ in 0..25 {
                let seq = reber_sequence(&mut rng);
                net.reset_context();
                for w in seq.windows(2) {
                    let pred = net.predict(&onehot(w[0].0)).unwrap();
                    errs += usize::from(!w[0].1.contains(&top_k(pred, 1)[0]));
                    net.learn(&onehot(w[1].0)).unwrap();
                }
            }
            out.push(errs);
            let k = out.len();
            if k >= 2 && out[k - 1] == 0 && out[k - 2] == 0 {
                break;
            }
        }
        out
    }

    /// Issue 6: the backprop learner learns the Reber grammar to zero errors (two consecutive
    /// error-free epochs of 25 strings), for every one of 5 seeds.
    #[test]
    fn learns_the_reber_grammar_to_zero_errors() {
        let p = BackpropParams {
            hidden: 16,
            lrate: 0.01,
            bptt: 4,
            residual: false,
            ..Default::default()
        };
        for seed in 0..5 {
            let e = reber_epochs(seed, p.clone(), 200);
            let n = e.len();
            assert!(
                n >= 2 && e[n - 1] == 0 && e[n - 2] == 0,
                "seed {seed}: errors per epoch {e:?}"
            );
        }
    }
}
