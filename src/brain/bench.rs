//! Timing of full theta cycles with learning on synthetic input streams (`thetabox bench learner`).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::deep::{DeepOpts, deep_predictive};
use super::error::Result;
use super::layer::{LayerKind, LayerSpec, Shape};
use super::network::{Network, NetworkSpec, ThetaParams};
use super::path::{PathKind, PathSpec, Pattern};

/// Which network to time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchSize {
    /// The default agent brain: 16×16×2 input drivers, 20×20 Super and CT, their pulvinar and an
    /// 8-unit action layer.
    Small,
    /// Shaped like Axon's bench_lvis: 47,204 neurons, ~32 M synapses, a pooled V1 → V2 → V4 →
    /// TEO → TE → output hierarchy with topographic feedforward and feedback pathways.
    Lvis,
}

/// What a benchmark measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchResult {
    /// Network size.
    pub size: BenchSize,
    /// Neurons.
    pub neurons: usize,
    /// Synapses.
    pub synapses: usize,
    /// Wall-clock milliseconds per theta cycle (200 ms simulated, learning included).
    pub ms_per_theta: f64,
    /// Theta cycles per second.
    pub theta_per_second: f64,
    /// Mean firing rate over all non-input neurons, Hz.
    pub mean_rate_hz: f64,
    /// Theta cycles timed.
    pub cycles: usize,
    /// Where the time went, milliseconds per theta cycle.
    pub parts: BenchParts,
}

/// Milliseconds per theta cycle spent in each part of it (see
/// [`PartTimes`](super::network::PartTimes)); they add up to [`BenchResult::ms_per_theta`].
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct BenchParts {
    /// Every layer's cycle update: input, inhibition, the neuron kernel, calcium bins, spikes.
    pub neurons_ms: f64,
    /// Spike propagation.
    pub propagation_ms: f64,
    /// Weight changes at the end of the theta cycle.
    pub learning_ms: f64,
    /// Slow adaptation (structural weights, synaptic scaling), averaged over the cycles.
    pub slow_ms: f64,
    /// Everything else: setting inputs and outcomes, phase ends, decoding, the synthetic stream.
    pub other_ms: f64,
}

/// Actions of the default agent, which the `small` brain has remapping pathways for.
const SMALL_ACTIONS: usize = 5;

/// The `small` agent brain.
pub fn small_spec(seed: u64) -> NetworkSpec {
    // The agent brain of a default 16×16 luminance + depth retina: 4×4 tiles of 4×4 pixels ×
    // 2 channels, Super and CT 4×4 pools of 5×5, fully connected, five actions.
    let o = DeepOpts {
        seed,
        remap_actions: Some(SMALL_ACTIONS),
        channel_width: 4,
        ..DeepOpts::agent()
    };
    deep_predictive(Shape::d4(4, 4, 4, 8), &o)
}

/// The `lvis`-shaped network.
pub fn lvis_spec(seed: u64) -> NetworkSpec {
    let hidden = |name: &str, shape: Shape, gi: f32| {
        let mut l = LayerSpec::new(name, LayerKind::Hidden, shape);
        l.inhib.gi = gi;
        l.pool_inhib.gi = gi;
        l
    };
    let mut v1 = LayerSpec::new("V1", LayerKind::Input, Shape::d4(16, 16, 8, 6));
    v1.neuron.clamp_ge = 1.5;
    v1.act_nominal = 0.15;
    let mut out = LayerSpec::new("Output", LayerKind::Target, Shape::d2(20, 97));
    out.neuron.clamp_ge = 1.5;
    let layers = vec![
        v1,
        hidden("V2", Shape::d4(16, 16, 10, 8), 1.1),
        hidden("V4", Shape::d4(8, 8, 10, 10), 1.1),
        hidden("TEO", Shape::d4(4, 4, 16, 16), 1.1),
        hidden("TE", Shape::d4(2, 2, 25, 20), 1.1),
        out,
    ];
    let ff =
        |a: &str, b: &str| PathSpec::new(a, b, PathKind::Forward, Pattern::PoolTile { radius: 1 });
    let fb = |a: &str, b: &str| {
        PathSpec::new(a, b, PathKind::Back, Pattern::PoolTile { radius: 0 }).rel(0.2)
    };
    let paths = vec![
        ff("V1", "V2"),
        ff("V2", "V4"),
        fb("V4", "V2"),
        ff("V4", "TEO"),
        fb("TEO", "V4"),
        ff("TEO", "TE"),
        fb("TE", "TEO"),
        PathSpec::new("TE", "Output", PathKind::Forward, Pattern::Full),
        PathSpec::new("Output", "TE", PathKind::Back, Pattern::Full).rel(0.2),
    ];
    NetworkSpec {
        layers,
        paths,
        theta: ThetaParams::default(),
        seed,
    }
}

/// Times `cycles` theta cycles (after a short warm-up) on a synthetic stream.
pub fn run(size: BenchSize, cycles: usize, seed: u64) -> Result<BenchResult> {
    let spec = match size {
        BenchSize::Small => small_spec(seed),
        BenchSize::Lvis => lvis_spec(seed),
    };
    let mut net = Network::new(spec)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xbe7c);
    let warm = 2;
    let mut t0 = Instant::now();
    let mut spikes0 = 0;
    for t in 0..warm + cycles {
        if t == warm {
            t0 = Instant::now();
            spikes0 = net.hidden_spikes();
            net.time_parts();
        }
        match size {
            BenchSize::Small => small_step(&mut net, t, &mut rng)?,
            BenchSize::Lvis => lvis_step(&mut net, &mut rng)?,
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let hidden_n: usize = net
        .layers
        .iter()
        .filter(|l| l.spec.kind != LayerKind::Input)
        .map(|l| l.len())
        .sum();
    let sim_secs = cycles as f64 * net.spec().theta.total() as f64 / 1000.0;
    let per = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / cycles.max(1) as f64;
    let pt = net.part_times().unwrap_or_default();
    let ms_per_theta = secs * 1000.0 / cycles.max(1) as f64;
    let (neurons_ms, propagation_ms, learning_ms, slow_ms) = (
        per(pt.neurons),
        per(pt.propagation),
        per(pt.learning),
        per(pt.slow),
    );
    let parts = BenchParts {
        neurons_ms,
        propagation_ms,
        learning_ms,
        slow_ms,
        other_ms: (ms_per_theta - neurons_ms - propagation_ms - learning_ms - slow_ms).max(0.0),
    };
    Ok(BenchResult {
        size,
        neurons: net.num_neurons(),
        synapses: net.num_synapses(),
        ms_per_theta,
        theta_per_second: cycles as f64 / secs.max(1e-9),
        mean_rate_hz: (net.hidden_spikes() - spikes0) as f64 / (hidden_n as f64 * sim_secs),
        cycles,
        parts,
    })
}

/// A drifting two-channel grating moved by the action: a stand-in for an agent's eye.
fn small_step(net: &mut Network, t: usize, rng: &mut ChaCha8Rng) -> Result<()> {
    let (li, la) = (net.layer_index("Input")?, net.layer_index("Action")?);
    let frame = |phase: f32| -> Vec<f32> {
        let mut v = Vec::with_capacity(512);
        for ch in 0..2 {
            for y in 0..16 {
                for x in 0..16 {
                    let a = 0.4 * x as f32 + 0.25 * y as f32 + phase + ch as f32;
                    v.push(0.5 + 0.5 * a.sin());
                }
            }
        }
        v
    };
    // The default agent's five actions (each opens its remapping pathway).
    let action = rng.random_range(0..SMALL_ACTIONS);
    let phase = t as f32 * 0.3;
    let mut act = vec![0.0; 8];
    act[action] = 1.0;
    net.start_theta()?;
    net.set_input(li, &frame(phase))?;
    net.set_input(la, &act)?;
    net.run_minus()?;
    net.apply_outcome(li, &frame(phase + 0.3 + 0.1 * action as f32))?;
    net.run_plus()?;
    net.learn()
}

/// Sparse random blobs in V1 (about 15 % of units, graded) and a sparse random target.
fn lvis_step(net: &mut Network, rng: &mut ChaCha8Rng) -> Result<()> {
    let (lv, lo) = (net.layer_index("V1")?, net.layer_index("Output")?);
    let nv = net.layers[lv].len();
    let no = net.layers[lo].len();
    let v1: Vec<f32> = (0..nv)
        .map(|_| {
            if rng.random::<f32>() < 0.15 {
                0.5 + 0.5 * rng.random::<f32>()
            } else {
                0.0
            }
        })
        .collect();
    let out: Vec<f32> = (0..no)
        .map(|_| if rng.random::<f32>() < 0.05 { 1.0 } else { 0.0 })
        .collect();
    net.start_theta()?;
    net.set_input(lv, &v1)?;
    net.set_input(lo, &out)?;
    net.run_minus()?;
    net.run_plus()?;
    net.learn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_brain_has_the_specified_shape_and_runs() {
        let r = run(BenchSize::Small, 2, 0).unwrap();
        assert_eq!(r.neurons, 512 + 8 + 400 + 400 + 512);
        // Fully connected: Input, pulvinar ↔ Super, CT (5 × 512 × 400), Super → CT context
        // (400 × 400), the 8 actions → Super, CT, and one Input → pulvinar remapping pathway
        // per action of the default agent, each pixel of each of the two 16 × 16 channels
        // hearing its own channel within 1 row and 5 columns (46 row and 146 column pairs
        // within reach, edges clipped).
        assert_eq!(
            r.synapses,
            5 * 512 * 400 + 400 * 400 + 2 * 8 * 400 + SMALL_ACTIONS * 2 * 46 * 146
        );
        assert!(
            r.mean_rate_hz > 0.5 && r.mean_rate_hz < 150.0,
            "{}",
            r.mean_rate_hz
        );
        // Every part was timed, and the parts account for the whole cycle.
        let p = r.parts;
        assert!(p.neurons_ms > 0.0 && p.propagation_ms > 0.0 && p.learning_ms > 0.0);
        let sum = p.neurons_ms + p.propagation_ms + p.learning_ms + p.slow_ms + p.other_ms;
        assert!(
            (sum - r.ms_per_theta).abs() < 1e-6 * r.ms_per_theta.max(1.0),
            "{p:?}"
        );
    }

    #[test]
    fn lvis_spec_matches_bench_lvis_size() {
        let net = Network::new(lvis_spec(0)).unwrap();
        assert_eq!(net.num_neurons(), 47_204);
        let s = net.num_synapses() as f64;
        assert!((s - 32.4e6).abs() / 32.4e6 < 0.02, "{s}");
    }
}
