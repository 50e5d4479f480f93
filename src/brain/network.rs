//! A network of layers and pathways, driven one theta cycle at a time.
//!
//! ```text
//! start_theta → set_input(…) → run_minus → prediction(…) → apply_outcome(…) → run_plus → learn
//! ```

use std::path::Path as FsPath;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{BrainError, Result, check_vector};
use super::inhib::InhibState;
use super::kinase::SynCaBins;
use super::layer::{Layer, LayerKind, LayerSpec};
use super::neuron::{
    ChunkFn, GabaExp, LANES, LaneIn, LaneSlices, Lanes, NeuronConsts, NeuronParams, Neurons,
    Shortcuts,
};
use super::path::{LearnCtx, Path, PathKind, PathSpec};
use super::simd::{Vf, widest_vectors};

/// Timing of the theta cycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThetaParams {
    /// Minus-phase (prediction) cycles, 1 ms each. Default 150.
    pub minus_cycles: usize,
    /// Plus-phase (outcome) cycles. Default 50.
    pub plus_cycles: usize,
    /// Cycles averaged into one CaSyn bin for the synaptic trace. Default 10.
    pub bin_cycles: usize,
    /// Synaptic delay in cycles beyond the next one (2 ⇒ a spike arrives 3 ms later). Default 2.
    pub delay: usize,
    /// Theta cycles between slow adaptations (SWt, synaptic scaling); 0 = never. Default 100.
    pub slow_interval: usize,
}

impl Default for ThetaParams {
    fn default() -> Self {
        Self {
            minus_cycles: 150,
            plus_cycles: 50,
            bin_cycles: 10,
            delay: 2,
            slow_interval: 100,
        }
    }
}

impl ThetaParams {
    /// Cycles per theta cycle.
    pub fn total(&self) -> usize {
        self.minus_cycles + self.plus_cycles
    }

    /// CaSyn bins per theta cycle.
    pub fn bins(&self) -> usize {
        self.total().div_ceil(self.bin_cycles)
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, v: usize, why: &str| {
            Err(BrainError::InvalidParam {
                field: format!("theta.{f}"),
                value: v.to_string(),
                reason: why.into(),
            })
        };
        if self.minus_cycles == 0 || self.minus_cycles > 10_000 {
            return bad("minus_cycles", self.minus_cycles, "must be in 1..=10000");
        }
        if self.plus_cycles == 0 || self.plus_cycles > 10_000 {
            return bad("plus_cycles", self.plus_cycles, "must be in 1..=10000");
        }
        if self.bin_cycles == 0 || self.bin_cycles > self.total() {
            return bad("bin_cycles", self.bin_cycles, "must be in 1..=cycle length");
        }
        if self.delay > 32 {
            return bad("delay", self.delay, "must be ≤ 32");
        }
        Ok(())
    }
}

/// Everything needed to build a network: layers, pathways, timing and seed. Loadable from RON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Layers, in update order.
    pub layers: Vec<LayerSpec>,
    /// Pathways.
    pub paths: Vec<PathSpec>,
    /// Theta-cycle timing.
    #[serde(default)]
    pub theta: ThetaParams,
    /// Seed of the weight initialisation.
    #[serde(default)]
    pub seed: u64,
}

impl NetworkSpec {
    /// Parses a RON text; errors name `origin`, line and column.
    pub fn from_ron(text: &str, origin: &str) -> Result<Self> {
        let spec: Self = ron::from_str(text).map_err(|e| BrainError::Config {
            path: origin.to_string(),
            line: e.position.line,
            col: e.position.col,
            msg: e.code.to_string(),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Serialises to pretty RON.
    pub fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .unwrap_or_else(|e| format!("/* {e} */"))
    }

    /// Index of the layer named `name`.
    pub fn layer(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }

    /// Checks the whole specification.
    pub fn validate(&self) -> Result<()> {
        self.theta.validate()?;
        if self.layers.is_empty() {
            return Err(BrainError::InvalidParam {
                field: "layers".into(),
                value: "[]".into(),
                reason: "a network needs at least one layer".into(),
            });
        }
        for (i, l) in self.layers.iter().enumerate() {
            l.validate()?;
            if self.layers[..i].iter().any(|o| o.name == l.name) {
                return Err(BrainError::InvalidParam {
                    field: format!("layers.{}", l.name),
                    value: l.name.clone(),
                    reason: "layer names must be unique".into(),
                });
            }
            if let LayerKind::Pulvinar { driver } = &l.kind {
                let d = self
                    .layer(driver)
                    .ok_or_else(|| BrainError::UnknownLayer(driver.clone()))?;
                if self.layers[d].shape.len() != l.shape.len() {
                    return Err(BrainError::InvalidParam {
                        field: format!("layers.{}.kind.driver", l.name),
                        value: driver.clone(),
                        reason: "a pulvinar layer must have as many units as its driver".into(),
                    });
                }
                // Both act only through an input driver's spikes; set otherwise they would
                // silently do nothing.
                let input_driver = self.layers[d].kind == LayerKind::Input;
                if l.pulv.drive_spikes && !input_driver {
                    return Err(BrainError::InvalidParam {
                        field: format!("layers.{}.pulv.drive_spikes", l.name),
                        value: "true".into(),
                        reason: format!(
                            "only an Input driver's spikes can drive a pulvinar; `{driver}` is \
                             a {:?} layer",
                            self.layers[d].kind
                        ),
                    });
                }
                if l.pulv.driver_decay != 0.0 && !(l.pulv.drive_spikes && input_driver) {
                    return Err(BrainError::InvalidParam {
                        field: format!("layers.{}.pulv.driver_decay", l.name),
                        value: l.pulv.driver_decay.to_string(),
                        reason: "acts only with drive_spikes on an Input driver; set it to 0 or \
                                 turn drive_spikes on"
                            .into(),
                    });
                }
            }
        }
        for (i, p) in self.paths.iter().enumerate() {
            p.validate(i)?;
            let to = self
                .layer(&p.to)
                .ok_or_else(|| BrainError::UnknownLayer(p.to.clone()))?;
            self.layer(&p.from)
                .ok_or_else(|| BrainError::UnknownLayer(p.from.clone()))?;
            if self.layers[to].kind == LayerKind::Input {
                return Err(BrainError::InvalidParam {
                    field: format!("paths[{i}].to"),
                    value: p.to.clone(),
                    reason: "input layers are clamped and take no pathways".into(),
                });
            }
            if let Some(g) = &p.gate {
                let gl = self
                    .layer(&g.layer)
                    .ok_or_else(|| BrainError::UnknownLayer(g.layer.clone()))?;
                if self.layers[gl].kind != LayerKind::Input || g.unit >= self.layers[gl].shape.len()
                {
                    return Err(BrainError::InvalidParam {
                        field: format!("paths[{i}].gate"),
                        value: format!("{}[{}]", g.layer, g.unit),
                        reason: "a gate must be a unit of an input layer".into(),
                    });
                }
                if p.kind == PathKind::CtCtxt {
                    return Err(BrainError::InvalidParam {
                        field: format!("paths[{i}].gate"),
                        value: g.layer.clone(),
                        reason: "context pathways cannot be gated".into(),
                    });
                }
            }
            if p.kind == PathKind::CtCtxt && self.layers[to].kind != LayerKind::Ct {
                return Err(BrainError::InvalidParam {
                    field: format!("paths[{i}].kind"),
                    value: "CtCtxt".into(),
                    reason: "context pathways must end in a CT layer".into(),
                });
            }
        }
        Ok(())
    }
}

/// Where the network is within its theta cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Between theta cycles.
    Idle,
    /// Started; inputs may be set; the minus phase is next.
    Started,
    /// Minus phase done; the prediction can be read and the outcome applied.
    MinusDone,
    /// Plus phase done; learning is next.
    PlusDone,
}

/// Online linear map from a pulvinar unit's plus-phase activity to its driver's value.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Decoder {
    sx: f64,
    sy: f64,
    sxx: f64,
    sxy: f64,
    n: f64,
}

impl Decoder {
    fn observe(&mut self, acts: &[f32], values: &[f32]) {
        // Forget slowly so that the map follows learning.
        const KEEP: f64 = 0.98;
        self.sx *= KEEP;
        self.sy *= KEEP;
        self.sxx *= KEEP;
        self.sxy *= KEEP;
        self.n *= KEEP;
        for (&x, &y) in acts.iter().zip(values) {
            let (x, y) = (x as f64, y as f64);
            self.sx += x;
            self.sy += y;
            self.sxx += x * x;
            self.sxy += x * y;
            self.n += 1.0;
        }
    }

    /// Maps activities to values (identity before anything was observed).
    pub fn decode(&self, acts: &[f32]) -> Vec<f32> {
        let var = self.sxx - self.sx * self.sx / self.n.max(1e-9);
        if self.n < 1.0 || var <= 1e-9 {
            return acts.to_vec();
        }
        let b = (self.sxy - self.sx * self.sy / self.n) / var;
        let a = (self.sy - b * self.sx) / self.n;
        acts.iter()
            .map(|&x| (a + b * x as f64).clamp(0.0, 1.0) as f32)
            .collect()
    }
}

/// Where a layer's 5IB burst lives: Super layers compute it (thresholded CaP in the plus
/// phase); for every other layer it is its CaP. Takes the two fields, not the whole state, so
/// callers can keep writing other fields.
fn burst_of<'n>(kind: &LayerKind, burst: &'n [f32], ca_p: &'n [f32]) -> &'n [f32] {
    if *kind == LayerKind::Super {
        burst
    } else {
        ca_p
    }
}

/// Whether pathway `p` is open this theta cycle (a network that has not run a minus phase yet
/// has no gate states: everything is open).
fn is_open(gate_open: &[bool], p: usize) -> bool {
    gate_open.get(p).copied().unwrap_or(true)
}

/// Checks that `values` are `len` finite, non-negative rates.
fn check_rates(what: &str, len: usize, values: &[f32]) -> Result<()> {
    check_vector(what, values, len)?;
    match values.iter().position(|v| *v < 0.0) {
        Some(i) => Err(BrainError::InvalidParam {
            field: format!("{what}[{i}]"),
            value: values[i].to_string(),
            reason: "values are rates and must be ≥ 0".into(),
        }),
        None => Ok(()),
    }
}

/// Splits a per-neuron buffer into each layer's slice (layers are contiguous and in order).
fn split_by_layer<'a>(layers: &[Layer], buf: &'a mut [f32]) -> Vec<(usize, &'a mut [f32])> {
    let mut out = Vec::with_capacity(layers.len());
    let mut rest = buf;
    for (li, l) in layers.iter().enumerate() {
        let (a, b) = rest.split_at_mut(l.len());
        out.push((li, a));
        rest = b;
    }
    out
}

/// One layer's neuron-kernel pass over a range of its units.
struct KernelJob<'a> {
    p: &'a NeuronParams,
    k: &'a NeuronConsts,
    sc: &'a Scratch,
    fill: &'a Lanes,
    clamped: bool,
    plus: bool,
    cut: Shortcuts,
}

impl KernelJob<'_> {
    widest_vectors! {
        /// Runs the kernel on `sl` (layer-local offset `off`), with the widest vector
        /// instructions this processor has; every build gives bit-identical results.
        fn run(&self, off: usize, sl: LaneSlices<'_>) = run_generic, run_avx512, run_avx2;
    }

    #[inline(always)]
    fn run_generic(&self, off: usize, sl: LaneSlices<'_>) {
        sl.for_each_chunk(self.fill, &KernelChunk { job: self, off });
    }
}

/// The kernel on one chunk of a [`KernelJob`]'s slices, `off` being the slices' offset in the
/// layer (and so in the scratch buffers).
struct KernelChunk<'a, 'b> {
    job: &'a KernelJob<'b>,
    off: usize,
}

impl ChunkFn for KernelChunk<'_, '_> {
    #[inline(always)]
    fn chunk(&self, c: usize, x: &mut Lanes) {
        let job = self.job;
        let sc = job.sc;
        let g = self.off + c;
        // Straight from the slices: zeroing vectors first and copying into them went
        // through the stack and stalled on store forwarding.
        let lanes = |v: &[f32]| Vf(v[g..g + LANES].try_into().expect("LANES values"));
        let inp = LaneIn {
            ge_raw: lanes(&sc.ge_raw),
            gi_raw: lanes(&sc.gi_raw),
            pool_gi: lanes(&sc.gi),
            ss_gi: lanes(&sc.ss),
            clamp_ge: lanes(&sc.clamp_ge),
            clamped: Vf::splat(if job.clamped { 1.0 } else { 0.0 }),
            inj: Vf::default(),
            gabab_s: lanes(&sc.gabab_s),
        };
        job.p.cycle(job.k, x, &inp, job.plus, job.cut);
    }
}

/// Spike propagation into one receiving layer: every open pathway's rows of this cycle's
/// spikes, added into the layer's slices of the ring buffer.
struct PropJob<'a> {
    layers: &'a [Layer],
    paths: &'a [Path],
    spiked: &'a [Vec<u32>],
    recv_paths: &'a [Vec<usize>],
    gate_open: &'a [bool],
}

impl PropJob<'_> {
    widest_vectors! {
        /// Adds layer `li`'s incoming spikes into `ge` and `gi` with the widest vector
        /// instructions this processor has (the row adds are most of the work); every build
        /// gives bit-identical sums.
        fn run(&self, li: usize, ge: &mut [f32], gi: &mut [f32]) = run_generic, run_avx512, run_avx2;
    }

    #[inline(always)]
    fn run_generic(&self, li: usize, ge: &mut [f32], gi: &mut [f32]) {
        let r_start = self.layers[li].start;
        for &pi in &self.recv_paths[li] {
            if !is_open(self.gate_open, pi) {
                continue;
            }
            let p = &self.paths[pi];
            let buf: &mut [f32] = if p.spec.kind == PathKind::Inhib {
                gi
            } else {
                ge
            };
            for &s in &self.spiked[p.send] {
                p.send_row_local(s as usize, p.gscale, buf, r_start);
            }
        }
    }
}

/// Per-cycle working buffers, sized to the largest layer.
#[derive(Clone, Debug, Default)]
struct Scratch {
    ge_raw: Vec<f32>,
    gi_raw: Vec<f32>,
    gi: Vec<f32>,
    ss: Vec<f32>,
    clamp_ge: Vec<f32>,
    gabab_s: Vec<f32>,
    ff: Vec<f32>,
    ext: Vec<f32>,
}

impl Scratch {
    fn new(max_layer: usize) -> Self {
        // Padded to whole lanes so the kernel always copies LANES values.
        let v = vec![0.0; max_layer.div_ceil(LANES) * LANES];
        Self {
            ge_raw: v.clone(),
            gi_raw: v.clone(),
            gi: v.clone(),
            ss: v.clone(),
            gabab_s: v.clone(),
            clamp_ge: v,
            ff: Vec::new(),
            ext: Vec::new(),
        }
    }
}

/// The input layer whose spikes drive pulvinar `li` in the plus phase (`NetworkSpec::validate`
/// refuses `drive_spikes` with any other driver).
fn spike_driver(layers: &[Layer], li: usize) -> Option<usize> {
    let l = &layers[li];
    l.driver.filter(|_| l.spec.pulv.drive_spikes)
}

/// Framing of saved networks (version 6: own-pixel initial weights of windowed pathways; 5:
/// the pulvinar's activity-error rule; 4: the pulvinar's driver decay; 3: pulvinar spike
/// drive, windowed pathways).
const FORMAT: super::framing::Format = super::framing::Format {
    magic: b"THETANET",
    version: 6,
};

/// Wall-clock time spent in each part of the theta cycle while timing is on
/// ([`Network::time_parts`]). For benchmarks: timing never changes what the network computes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PartTimes {
    /// Every layer's cycle update: gathering its input, inhibition, the neuron kernel, the
    /// calcium bins and the list of units that spiked.
    pub neurons: Duration,
    /// Spike propagation into the delay buffer.
    pub propagation: Duration,
    /// Weight changes at the end of the theta cycle: credit, soft bound, effective weight.
    pub learning: Duration,
    /// Slow adaptation (structural weights, synaptic scaling) every `slow_interval` cycles.
    pub slow: Duration,
}

/// A built network with all its state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Network {
    spec: NetworkSpec,
    /// Layers in update order.
    pub layers: Vec<Layer>,
    /// Pathways.
    pub paths: Vec<Path>,
    /// Neuron state.
    pub neurons: Neurons,
    /// Excitatory input ring buffer, slot-major (`slots × neurons`).
    ge_buf: Vec<f32>,
    /// Inhibitory input ring buffer.
    gi_buf: Vec<f32>,
    bins: SynCaBins,
    /// Incoming non-context pathways per layer, in pathway order.
    recv_paths: Vec<Vec<usize>>,
    /// Synapses that can carry spikes in one cycle, gated alternatives counted once (decides
    /// whether propagation runs in parallel).
    num_synapses_cached: usize,
    /// Local indices of the units that spiked on the last cycle, per layer.
    spiked: Vec<Vec<u32>>,
    decoders: Vec<Decoder>,
    /// Derived kernel constants per layer (rebuilt from the parameters, never saved).
    #[serde(skip)]
    consts: Vec<NeuronConsts>,
    /// Exact shortcuts the kernel may take per layer (derived from the pathways).
    #[serde(skip)]
    cuts: Vec<Shortcuts>,
    #[serde(skip)]
    scratch: Scratch,
    /// Per pathway: whether its gate is open this theta cycle (set as the minus phase starts;
    /// saved, so a network saved mid-cycle continues with the same pathways).
    gate_open: Vec<bool>,
    /// Multiplier on every pathway's learning rate (a schedule, as Axon's `LRate.Sched`).
    lrate_sched: f32,
    /// Spikes emitted per layer since the network was built.
    spike_counts: Vec<u64>,
    phase: Phase,
    /// Cycle within the theta cycle.
    cycle: usize,
    /// Cycles since the network was built.
    t: u64,
    /// Theta cycles completed (learned or not).
    trials: u64,
    /// Time spent per part, while timing is on (never saved).
    #[serde(skip)]
    times: Option<PartTimes>,
}

impl Network {
    /// Builds a network from a validated specification.
    pub fn new(spec: NetworkSpec) -> Result<Self> {
        spec.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let nb = spec.theta.bins();
        let mut neurons = Neurons::default();
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut start = 0;
        for ls in &spec.layers {
            let n = ls.shape.len();
            neurons.push_rest(&ls.neuron, n, nb);
            let pools = if ls.shape.pools() > 1 {
                vec![InhibState::default(); ls.shape.pools()]
            } else {
                Vec::new()
            };
            // Homeostatic targets: a spread of relative activities, shuffled within each pool.
            let ps = ls.shape.pool_size();
            for p in 0..ls.shape.pools() {
                let mut trg: Vec<f32> = (0..ps)
                    .map(|i| 0.5 + 1.5 * (i as f32 + 0.5) / ps as f32)
                    .collect();
                trg.shuffle(&mut rng);
                neurons.trg_avg[start + p * ps..start + (p + 1) * ps].copy_from_slice(&trg);
            }
            layers.push(Layer {
                spec: ls.clone(),
                start,
                inhib: InhibState::default(),
                pools,
                driver: match &ls.kind {
                    LayerKind::Pulvinar { driver } => spec.layer(driver),
                    _ => None,
                },
                clamped: ls.kind == LayerKind::Input,
                pool_spikes: vec![0; ls.shape.pools()],
            });
            start += n;
        }
        let mut paths = Vec::with_capacity(spec.paths.len());
        for ps in &spec.paths {
            let (s, r) = (
                spec.layer(&ps.from).unwrap_or(0),
                spec.layer(&ps.to).unwrap_or(0),
            );
            paths.push(Path::build(
                ps.clone(),
                s,
                r,
                layers[s].spec.shape,
                layers[r].spec.shape,
                layers[r].start,
                &mut rng,
            )?);
        }
        // Pathway scaling: Abs · Rel/ΣRel / expected active senders, where ΣRel runs over all
        // excitatory pathways into the receiver, context included (as Axon does: a CT layer's
        // pulvinar feedback with Rel 0.1 is a small share next to its context, not the whole of
        // its "ordinary" input), and separately over inhibitory ones.
        let class = |k: PathKind| match k {
            PathKind::Inhib => 1,
            _ => 0,
        };
        // Gated pathways of one pattern from one sender, gated by one layer, are alternatives
        // (one open at a time for a one-hot gate layer): together they count as one share of
        // ΣRel.
        let alternatives: Vec<usize> = paths
            .iter()
            .map(|p| {
                p.spec.gate.as_ref().map_or(1, |g| {
                    paths
                        .iter()
                        .filter(|q| {
                            q.recv == p.recv
                                && q.send == p.send
                                && q.spec.pattern == p.spec.pattern
                                && q.spec.gate.as_ref().is_some_and(|h| h.layer == g.layer)
                        })
                        .count()
                })
            })
            .collect();
        let mut gscales = Vec::with_capacity(paths.len());
        for i in 0..paths.len() {
            let (r, k) = (paths[i].recv, class(paths[i].spec.kind));
            let rel_sum: f32 = paths
                .iter()
                .zip(&alternatives)
                .filter(|(p, _)| p.recv == r && class(p.spec.kind) == k)
                .map(|(p, &a)| p.spec.rel / a as f32)
                .sum();
            let p = &paths[i];
            let nr = layers[r].len();
            let avg_fan = p.len() as f32 / nr as f32;
            let n_send = layers[p.send].len() as f32;
            let nominal = layers[p.send].spec.act_nominal;
            let mut expect = (nominal * avg_fan).round().max(1.0);
            if avg_fan < n_send {
                // Partial connectivity: allow for sampling variation (Axon adds 2).
                expect = (expect + 2.0).min(avg_fan.max(1.0));
            }
            let rel = if rel_sum > 0.0 {
                p.spec.rel / rel_sum
            } else {
                0.0
            };
            gscales.push(p.spec.abs * rel / expect);
        }
        let num_synapses_cached = paths
            .iter()
            .zip(&alternatives)
            .map(|(p, &a)| p.len() / a)
            .sum();
        for (p, g) in paths.iter_mut().zip(gscales) {
            p.gscale = g;
        }
        let mut recv_paths = vec![Vec::new(); layers.len()];
        for (i, p) in paths.iter().enumerate() {
            if p.spec.kind != PathKind::CtCtxt {
                recv_paths[p.recv].push(i);
            }
        }
        let slots = spec.theta.delay + 1;
        let n = neurons.len();
        let bins = SynCaBins::fit(
            spec.theta.minus_cycles,
            spec.theta.plus_cycles,
            spec.theta.bin_cycles,
            &spec.layers[0].neuron.ca,
        );
        let mut net = Self {
            consts: Vec::new(),
            cuts: Vec::new(),
            scratch: Scratch::default(),
            gate_open: Vec::new(),
            decoders: vec![Decoder::default(); layers.len()],
            spiked: vec![Vec::new(); layers.len()],
            recv_paths,
            num_synapses_cached,
            ge_buf: vec![0.0; slots * n],
            gi_buf: vec![0.0; slots * n],
            bins,
            layers,
            paths,
            neurons,
            lrate_sched: 1.0,
            spike_counts: vec![0; spec.layers.len()],
            phase: Phase::Idle,
            cycle: 0,
            t: 0,
            trials: 0,
            times: None,
            spec,
        };
        net.rebuild_derived();
        Ok(net)
    }

    /// Recomputes what is derived from the parameters rather than saved.
    fn rebuild_derived(&mut self) {
        self.consts = self.layers.iter().map(|l| l.spec.neuron.consts()).collect();
        self.cuts = (0..self.layers.len())
            .map(|li| {
                let into = |inhib: bool| {
                    self.paths
                        .iter()
                        .any(|p| p.recv == li && (p.spec.kind == PathKind::Inhib) == inhib)
                };
                let kind = &self.layers[li].spec.kind;
                Shortcuts {
                    // CT context and pulvinar drive also arrive as excitatory input.
                    no_syn_input: !into(false)
                        && *kind != LayerKind::Ct
                        && !matches!(kind, LayerKind::Pulvinar { .. }),
                    gabab_from_pool: !into(true),
                }
            })
            .collect();
        let max = self.layers.iter().map(Layer::len).max().unwrap_or(0);
        self.scratch = Scratch::new(max);
        for p in &mut self.paths {
            p.index_runs();
        }
    }

    /// The specification it was built from.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// Index of the layer named `name`.
    pub fn layer_index(&self, name: &str) -> Result<usize> {
        self.layers
            .iter()
            .position(|l| l.spec.name == name)
            .ok_or_else(|| BrainError::UnknownLayer(name.to_string()))
    }

    /// Total neurons.
    pub fn num_neurons(&self) -> usize {
        self.neurons.len()
    }

    /// Total synapses.
    pub fn num_synapses(&self) -> usize {
        self.paths.iter().map(Path::len).sum()
    }

    /// Spikes emitted by layer `layer` since the network was built.
    pub fn spikes(&self, layer: usize) -> u64 {
        self.spike_counts[layer]
    }

    /// Spikes emitted by all non-input layers since the network was built.
    pub fn hidden_spikes(&self) -> u64 {
        self.layers
            .iter()
            .zip(&self.spike_counts)
            .filter(|(l, _)| l.spec.kind != LayerKind::Input)
            .map(|(_, c)| c)
            .sum()
    }

    /// Theta cycles completed.
    pub fn trials(&self) -> u64 {
        self.trials
    }

    /// Starts (or restarts, from zero) timing the parts of the theta cycle; see
    /// [`Self::part_times`].
    pub fn time_parts(&mut self) {
        self.times = Some(PartTimes::default());
    }

    /// Time spent per part since [`Self::time_parts`]; `None` when timing is off.
    pub fn part_times(&self) -> Option<PartTimes> {
        self.times
    }

    /// Runs `f`, adding the time it took to `part` of the timings when timing is on.
    fn timed(&mut self, part: fn(&mut PartTimes) -> &mut Duration, f: impl FnOnce(&mut Self)) {
        if self.times.is_none() {
            return f(self);
        }
        let t0 = Instant::now();
        f(self);
        if let Some(times) = &mut self.times {
            *part(times) += t0.elapsed();
        }
    }

    /// Sets the learning-rate schedule multiplier (1 = each pathway's own rate).
    pub fn set_lrate_sched(&mut self, mult: f32) {
        self.lrate_sched = if mult.is_finite() { mult.max(0.0) } else { 1.0 };
    }

    /// The learning-rate schedule multiplier.
    pub fn lrate_sched(&self) -> f32 {
        self.lrate_sched
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The fitted synaptic-calcium bin weights in use.
    pub fn syn_ca_bins(&self) -> &SynCaBins {
        &self.bins
    }

    fn expect_phase(&self, want: &[Phase], call: &str) -> Result<()> {
        if want.contains(&self.phase) {
            Ok(())
        } else {
            Err(BrainError::Order(format!(
                "{call} called in phase {:?} (allowed: {want:?})",
                self.phase
            )))
        }
    }

    /// Starts a theta cycle: decays state toward rest, keeps the last burst as context credit and
    /// clears the calcium bins.
    pub fn start_theta(&mut self) -> Result<()> {
        self.expect_phase(&[Phase::Idle], "start_theta")?;
        for li in 0..self.layers.len() {
            let l = &self.layers[li];
            let (act, glong) = (l.spec.neuron.decay.act, l.spec.neuron.decay.glong);
            let range = l.range();
            let is_target = l.spec.kind == LayerKind::Target;
            self.decay_layer(li, act, glong);
            let n = &mut self.neurons;
            let src = burst_of(&self.layers[li].spec.kind, &n.burst, &n.ca_p);
            n.burst_prv[range.clone()].copy_from_slice(&src[range.clone()]);
            n.act_int[range.clone()].fill(0.0);
            let n_all = n.len();
            for b in 0..self.spec.theta.bins() {
                n.bins[b * n_all + range.start..b * n_all + range.end].fill(0.0);
            }
            if is_target {
                self.layers[li].clamped = false;
            }
        }
        self.cycle = 0;
        self.phase = Phase::Started;
        Ok(())
    }

    fn decay_layer(&mut self, li: usize, act: f32, glong: f32) {
        let l = &mut self.layers[li];
        if act > 0.0 {
            l.inhib.decay(act);
            for s in &mut l.pools {
                s.decay(act);
            }
        }
        let r = l.start..l.start + l.spec.shape.len();
        self.neurons.decay(&l.spec.neuron, r, act, glong);
    }

    /// Sets the external values of an input layer (sensory frame, action) or the target of a
    /// target layer. Values are rates in [0, 1] (larger values are allowed, NaN is not).
    pub fn set_input(&mut self, layer: usize, values: &[f32]) -> Result<()> {
        self.expect_phase(&[Phase::Started, Phase::MinusDone], "set_input")?;
        let l = self
            .layers
            .get(layer)
            .ok_or_else(|| BrainError::UnknownLayer(format!("#{layer}")))?;
        let what = format!("input to layer `{}`", l.spec.name);
        if !matches!(l.spec.kind, LayerKind::Input | LayerKind::Target) {
            return Err(BrainError::Order(format!(
                "{what}: only Input and Target layers take external values"
            )));
        }
        check_rates(&what, l.len(), values)?;
        let r = l.range();
        self.neurons.ext[r].copy_from_slice(values);
        Ok(())
    }

    /// Same as [`Self::set_input`] by layer name.
    pub fn set_input_by_name(&mut self, layer: &str, values: &[f32]) -> Result<()> {
        let i = self.layer_index(layer)?;
        self.set_input(i, values)
    }

    /// Runs the minus phase: the prediction forms from context, without the outcome.
    pub fn run_minus(&mut self) -> Result<()> {
        self.expect_phase(&[Phase::Started], "run_minus")?;
        self.update_gates();
        for _ in 0..self.spec.theta.minus_cycles {
            self.step();
        }
        let n = &mut self.neurons;
        for i in 0..n.len() {
            n.act_m[i] = n.act_int[i];
            n.ca_p_m[i] = n.ca_p[i];
        }
        // The pulvinar starts the plus phase from rest, so its plus activity reflects the driver.
        for li in 0..self.layers.len() {
            if matches!(self.layers[li].spec.kind, LayerKind::Pulvinar { .. }) {
                let d = self.layers[li].spec.pulv.phase_decay;
                if d > 0.0 {
                    self.decay_layer(li, d, d);
                }
                let dd = self.layers[li].spec.pulv.driver_decay;
                if dd > 0.0
                    && let Some(dr) = spike_driver(&self.layers, li)
                {
                    self.decay_layer(dr, dd, dd);
                }
            }
        }
        self.check_state()?;
        self.phase = Phase::MinusDone;
        Ok(())
    }

    /// Opens each gated pathway whose gate unit is on; ungated pathways are always open.
    fn update_gates(&mut self) {
        let (spec, layers, n) = (&self.spec, &self.layers, &self.neurons);
        self.gate_open = self
            .paths
            .iter()
            .map(|p| {
                p.spec.gate.as_ref().is_none_or(|g| {
                    spec.layer(&g.layer)
                        .is_some_and(|l| n.ext[layers[l].start + g.unit] >= 0.5)
                })
            })
            .collect();
    }

    /// Minus-phase activity of a layer (for a pulvinar layer: the prediction), in [0, 1].
    pub fn prediction(&self, layer: usize) -> &[f32] {
        &self.neurons.act_m[self.layers[layer].range()]
    }

    /// The prediction mapped into its driver's value range by a linear map fitted online from
    /// plus-phase activity against the driver's values.
    pub fn prediction_decoded(&self, layer: usize) -> Vec<f32> {
        self.decoders[layer].decode(self.prediction(layer))
    }

    /// Plus-phase activity of a layer.
    pub fn outcome_activity(&self, layer: usize) -> &[f32] {
        &self.neurons.act_p[self.layers[layer].range()]
    }

    /// Applies the outcome, seen in the plus phase: for a driver (input) layer, the values that
    /// drive its pulvinar (the input layer itself keeps showing the current frame, so its
    /// Super layer's plus–minus difference is the prediction error fed back from the pulvinar,
    /// not the change of input); for a target layer, its target.
    pub fn apply_outcome(&mut self, layer: usize, values: &[f32]) -> Result<()> {
        self.expect_phase(&[Phase::MinusDone], "apply_outcome")?;
        let l = self
            .layers
            .get(layer)
            .ok_or_else(|| BrainError::UnknownLayer(format!("#{layer}")))?;
        if l.spec.kind != LayerKind::Input {
            return self.set_input(layer, values);
        }
        check_rates(
            &format!("outcome for layer `{}`", l.spec.name),
            l.len(),
            values,
        )?;
        let r = l.range();
        self.neurons.outcome[r.clone()].copy_from_slice(values);
        // A spike-driven pulvinar hears the outcome through this layer's spikes.
        if (0..self.layers.len()).any(|p| spike_driver(&self.layers, p) == Some(layer)) {
            self.neurons.ext[r].copy_from_slice(values);
        }
        Ok(())
    }

    /// Runs the plus phase: drivers clamp the pulvinar (targets clamp target layers).
    pub fn run_plus(&mut self) -> Result<()> {
        self.expect_phase(&[Phase::MinusDone], "run_plus")?;
        for l in &mut self.layers {
            if l.spec.kind == LayerKind::Target {
                l.clamped = true;
            }
        }
        for _ in 0..self.spec.theta.plus_cycles {
            self.step();
        }
        let n = &mut self.neurons;
        for i in 0..n.len() {
            n.act_p[i] = n.act_int[i];
        }
        for li in 0..self.layers.len() {
            let l = &self.layers[li];
            let r = l.range();
            let max_cd = n.ca_d[r.clone()].iter().copied().fold(0.0f32, f32::max);
            for i in r.clone() {
                n.rl_rate[i] = l.spec.rl_rate.factor(n.ca_p[i], n.ca_d[i], max_cd);
            }
            if let Some(d) = l.driver {
                let dr = self.layers[d].range();
                let vals: Vec<f32> = match self.layers[d].spec.kind {
                    LayerKind::Input => n.outcome[dr].to_vec(),
                    LayerKind::Target => n.ext[dr].to_vec(),
                    _ => n.act_p[dr].to_vec(),
                };
                self.decoders[li].observe(&n.act_p[r], &vals);
            }
        }
        self.send_context();
        self.check_state()?;
        self.phase = Phase::PlusDone;
        Ok(())
    }

    /// Learns from this theta cycle, then ends it.
    pub fn learn(&mut self) -> Result<()> {
        self.expect_phase(&[Phase::PlusDone], "learn")?;
        self.timed(|t| &mut t.learning, Self::dwt);
        self.end_theta();
        Ok(())
    }

    /// Ends the theta cycle without learning (testing).
    pub fn skip_learning(&mut self) -> Result<()> {
        self.expect_phase(&[Phase::PlusDone], "skip_learning")?;
        self.phase = Phase::Idle;
        self.trials += 1;
        Ok(())
    }

    fn end_theta(&mut self) {
        self.phase = Phase::Idle;
        self.trials += 1;
        let n = &mut self.neurons;
        for l in &self.layers {
            for i in l.range() {
                n.act_avg[i] += (n.act_m[i] - n.act_avg[i]) / 20.0;
                n.dtrg_avg[i] += 0.02 * (n.ca_p[i] - n.ca_d[i]);
            }
        }
        let si = self.spec.theta.slow_interval;
        if si > 0 && self.trials.is_multiple_of(si as u64) {
            self.timed(|t| &mut t.slow, Self::slow_adapt);
        }
    }

    fn check_state(&self) -> Result<()> {
        for l in &self.layers {
            let r = l.range();
            let n = &self.neurons;
            let bad = |v: &[f32]| v[r.clone()].iter().any(|x| !x.is_finite());
            if bad(&n.vm) || bad(&n.ca_p) || bad(&n.lca_p) {
                return Err(BrainError::Diverged {
                    layer: l.spec.name.clone(),
                    var: "Vm/Ca",
                });
            }
        }
        Ok(())
    }

    /// One 1 ms cycle of the whole network.
    fn step(&mut self) {
        let plus = self.cycle >= self.spec.theta.minus_cycles;
        let slot = (self.t % (self.spec.theta.delay as u64 + 1)) as usize;
        self.timed(
            |t| &mut t.neurons,
            |net| {
                for li in 0..net.layers.len() {
                    net.update_layer(li, plus, slot);
                }
            },
        );
        self.timed(|t| &mut t.propagation, |net| net.propagate(slot));
        self.cycle += 1;
        self.t += 1;
    }

    /// Gathers a layer's inputs, updates its inhibition and runs the neuron kernel.
    fn update_layer(&mut self, li: usize, plus: bool, slot: usize) {
        let n_all = self.neurons.len();
        let bin = self.cycle / self.spec.theta.bin_cycles;
        let bin_w = 1.0 / self.spec.theta.bin_cycles as f32;
        let l = &self.layers[li];
        let (start, len) = (l.start, l.len());
        let ps = l.spec.shape.pool_size();
        let clamped = l.clamped;
        let is_ct = l.spec.kind == LayerKind::Ct;
        let is_super = l.spec.kind == LayerKind::Super;
        let (ct_gain, drive_scale, clamp_ge) = (
            l.spec.ct.ge_gain,
            l.spec.pulv.drive_scale,
            l.spec.neuron.clamp_ge,
        );
        let ct_decay = if is_ct && l.spec.ct.decay_tau > 0.0 {
            1.0 / l.spec.ct.decay_tau
        } else {
            0.0
        };
        let n = &mut self.neurons;
        // Pulvinar in the plus phase: driven by its driver's value (input drivers: the outcome
        // applied to them; target drivers: the target; others: their burst), its other inputs
        // scaled down as the drive nears full strength; or, with `drive_spikes`, by an input
        // driver's spikes alone, which then integrate like synaptic input.
        // Field borrows (not through a method) so the other fields stay writable below.
        let mut drive: Option<(f32, &[f32])> = None;
        let mut spike_drive = false;
        if plus && let Some(d) = l.driver {
            let dl = &self.layers[d];
            spike_drive = spike_driver(&self.layers, li).is_some();
            let vals = match dl.spec.kind {
                LayerKind::Input if spike_drive => &n.spike[dl.range()],
                LayerKind::Input => &n.outcome[dl.range()],
                LayerKind::Target => &n.ext[dl.range()],
                _ => &burst_of(&dl.spec.kind, &n.burst, &n.ca_p)[dl.range()],
            };
            let non_drive = if spike_drive {
                0.0
            } else {
                let max_drv = vals.iter().copied().fold(0.0, f32::max);
                1.0 - (max_drv / l.spec.pulv.full_drive_act).min(1.0)
            };
            drive = Some((non_drive, vals));
        }
        // Gather this cycle's input and zero the ring-buffer slot for reuse.
        let sc = &mut self.scratch;
        let ge_slot = &mut self.ge_buf[slot * n_all..(slot + 1) * n_all];
        let gi_slot = &mut self.gi_buf[slot * n_all..(slot + 1) * n_all];
        let npools = l.spec.shape.pools();
        sc.ff.clear();
        sc.ff.resize(npools, 0.0);
        sc.ext.clear();
        sc.ext.resize(npools, 0.0);
        let (ge_in, gi_in) = (
            &mut ge_slot[start..start + len],
            &mut gi_slot[start..start + len],
        );
        let g = &mut sc.ge_raw[..len];
        g.copy_from_slice(ge_in);
        ge_in.fill(0.0);
        sc.gi_raw[..len].copy_from_slice(gi_in);
        gi_in.fill(0.0);
        if is_ct {
            // Context is felt as steady synaptic input through the whole theta cycle.
            for (g, c) in g.iter_mut().zip(&mut n.ctxt_ge[start..start + len]) {
                *g += ct_gain * *c;
                *c -= *c * ct_decay;
            }
        }
        if let Some((nd, dv)) = drive {
            for ((g, d), s) in g.iter_mut().zip(dv).zip(&mut n.ge_syn[start..start + len]) {
                *g = nd * *g + drive_scale * d;
                if !spike_drive {
                    *s *= nd;
                }
            }
        }
        n.ge_raw[start..start + len].copy_from_slice(g);
        for (c, e) in sc.clamp_ge[..len]
            .iter_mut()
            .zip(&n.ext[start..start + len])
        {
            *c = e * clamp_ge;
        }
        for pool in 0..npools {
            let r = pool * ps..(pool + 1) * ps;
            sc.ff[pool] = sc.ge_raw[r.clone()].iter().fold(0.0, |a, x| a + x);
            if clamped {
                sc.ext[pool] = sc.clamp_ge[r].iter().fold(0.0, |a, x| a + x);
            }
        }
        // Inhibition for the whole layer and per pool; a unit gets the larger of the two.
        let l = &mut self.layers[li];
        let nl = len as f32;
        let ff_l: f32 = sc.ff.iter().sum();
        let ext_l: f32 = sc.ext.iter().sum();
        let fb_l = l.pool_spikes.iter().sum::<u32>() as f32 / nl;
        l.inhib
            .update(&l.spec.inhib, ff_l / nl, fb_l, ext_l / nl, clamped);
        let (lgi, lss) = (l.inhib.gi, l.inhib.ss_gi);
        for (pi, st) in l.pools.iter_mut().enumerate() {
            let psz = ps as f32;
            let fb = l.pool_spikes[pi] as f32 / psz;
            st.update(
                &l.spec.pool_inhib,
                sc.ff[pi] / psz,
                fb,
                sc.ext[pi] / psz,
                clamped,
            );
        }
        let cut = self.cuts[li];
        for pool in 0..npools {
            let (g, s) = match l.pools.get(pool) {
                Some(p) => (p.gi.max(lgi), p.ss_gi.max(lss)),
                None => (lgi, lss),
            };
            let gs = if cut.gabab_from_pool { g.gaba_s() } else { 0.0 };
            let r = pool * ps..(pool + 1) * ps;
            sc.gi[r.clone()].fill(g);
            sc.ss[r.clone()].fill(s);
            sc.gabab_s[r].fill(gs);
        }
        // The neuron kernel, LANES units at a time; large layers split across threads.
        let p = &l.spec.neuron;
        let k = &self.consts[li];
        let fill = Lanes::rest(p);
        let sc = &self.scratch;
        let job = KernelJob {
            p,
            k,
            sc,
            fill: &fill,
            clamped,
            plus,
            cut,
        };
        let run = |off: usize, sl: LaneSlices<'_>| job.run(off, sl);
        let slices = LaneSlices::of(&mut self.neurons, start..start + len);
        const PAR_CHUNK: usize = 1024;
        if len >= 4 * PAR_CHUNK {
            let mut parts = Vec::with_capacity(len / PAR_CHUNK + 1);
            let mut rest = slices;
            let mut off = 0;
            while rest.len() > PAR_CHUNK {
                let (a, b) = rest.split_at(PAR_CHUNK);
                parts.push((off, a));
                off += PAR_CHUNK;
                rest = b;
            }
            parts.push((off, rest));
            parts.into_par_iter().for_each(|(off, sl)| run(off, sl));
        } else {
            run(0, slices);
        }
        // Synaptic-credit bins, spikes per pool and the burst.
        let n = &mut self.neurons;
        let row = &mut n.bins[bin * n_all + start..bin * n_all + start + len];
        for (b, c) in row.iter_mut().zip(&n.ca_syn[start..start + len]) {
            *b += c * bin_w;
        }
        let l = &mut self.layers[li];
        let sp = &mut self.spiked[li];
        // Branch-free: every index is written and only a spiking one is kept, as a branch on
        // spikes that come at random is mispredicted about as often as it is taken.
        sp.clear();
        sp.resize(len, 0);
        let mut c = 0;
        for (pool, spikes) in n.spike[start..start + len].chunks(ps).enumerate() {
            let c0 = c;
            for (k, &x) in (pool * ps..).zip(spikes) {
                sp[c] = k as u32;
                c += usize::from(x > 0.0);
            }
            l.pool_spikes[pool] = (c - c0) as u32;
        }
        sp.truncate(c);
        self.spike_counts[li] += sp.len() as u64;
        let r = start..start + len;
        if is_super && plus {
            let cps = &n.ca_p[r.clone()];
            let avg = cps.iter().sum::<f32>() / nl;
            let mx = cps.iter().copied().fold(0.0f32, f32::max);
            let thr = (avg + l.spec.burst.thr_rel * (mx - avg)).max(l.spec.burst.thr_abs);
            for i in r {
                let cp = n.ca_p[i];
                n.burst[i] = if cp >= thr { cp } else { 0.0 };
            }
        }
    }

    /// Spike propagation: a spike arrives `delay + 1` cycles later, i.e. in the slot just read.
    ///
    /// Receiver-major: each receiving layer sums its incoming pathways in pathway order and each
    /// pathway's spikes in sender order, so the sums are the same whether the layers run in
    /// parallel (large networks) or one after another.
    fn propagate(&mut self, slot: usize) {
        let n_all = self.neurons.len();
        let layers = &self.layers;
        let paths = &self.paths;
        let spiked = &self.spiked;
        let recv_paths = &self.recv_paths;
        let open = |p: usize| is_open(&self.gate_open, p);
        let split = |buf| split_by_layer(layers, buf);
        let mut jobs: Vec<(usize, &mut [f32], &mut [f32])> =
            split(&mut self.ge_buf[slot * n_all..(slot + 1) * n_all])
                .into_iter()
                .zip(split(&mut self.gi_buf[slot * n_all..(slot + 1) * n_all]))
                .map(|((li, ge), (_, gi))| (li, ge, gi))
                .filter(|(li, _, _)| {
                    recv_paths[*li]
                        .iter()
                        .any(|&p| open(p) && !spiked[paths[p].send].is_empty())
                })
                .collect();
        let job = PropJob {
            layers,
            paths,
            spiked,
            recv_paths,
            gate_open: &self.gate_open,
        };
        let run = |(li, ge, gi): &mut (usize, &mut [f32], &mut [f32])| job.run(*li, ge, gi);
        if self.num_synapses_cached > 2_000_000 {
            jobs.par_iter_mut().for_each(run);
        } else {
            jobs.iter_mut().for_each(run);
        }
    }

    /// CT context: at the end of the theta cycle each context pathway sends its senders' burst
    /// once; CT units feel it through the whole next cycle.
    ///
    /// Burst is a spike calcium (CaP ≈ SpikeG × spikes per cycle); dividing by SpikeG turns it
    /// back into spikes per cycle, so context arrives at the strength the same senders' spikes
    /// would have, and pathway scaling means the same for both.
    fn send_context(&mut self) {
        let n = &mut self.neurons;
        n.ctxt_ge_raw.fill(0.0);
        for p in &self.paths {
            if p.spec.kind != PathKind::CtCtxt {
                continue;
            }
            let sl = &self.layers[p.send];
            let norm = 1.0 / sl.spec.neuron.ca.spike_g;
            let (s_start, r_start) = (sl.start, self.layers[p.recv].start);
            let src = burst_of(&sl.spec.kind, &n.burst, &n.ca_p);
            for s in 0..sl.len() {
                let b = src[s_start + s];
                if b > 0.0 {
                    p.send_row(s, p.gscale * b * norm, &mut n.ctxt_ge_raw, r_start);
                }
            }
        }
        for l in &self.layers {
            if l.spec.kind == LayerKind::Ct {
                let r = l.range();
                n.ctxt_ge[r.clone()].copy_from_slice(&n.ctxt_ge_raw[r]);
            }
        }
    }

    /// Weight changes for every learning pathway.
    fn dwt(&mut self) {
        let n = &self.neurons;
        let nb = self.spec.theta.bins();
        let mut r_factor = vec![0.0f32; n.len()];
        let mut r_err = vec![0.0f32; n.len()];
        for l in &self.layers {
            let target = l.spec.kind.target_rule();
            let act_error = l.spec.act_error_gain();
            for i in l.range() {
                let err = if act_error > 0.0 {
                    act_error * (n.act_p[i] - n.act_m[i]) * n.rl_rate[i]
                } else {
                    n.lca_p[i] - n.lca_d[i]
                };
                r_err[i] = err;
                r_factor[i] = if target {
                    n.rl_rate[i]
                } else {
                    err * n.rl_rate[i]
                };
            }
        }
        let n_all = n.len();
        // Bins are stored bin-major (cheap to add to every cycle, and what whole-row learning
        // reads); indexed pathways read one neuron's bins at a time, so they get a copy.
        let mut bins_nm = vec![0.0f32; nb * n_all];
        for b in 0..nb {
            for i in 0..n_all {
                bins_nm[i * nb + b] = n.bins[b * n_all + i];
            }
        }
        let active: Vec<bool> = (0..n.len())
            .map(|i| n.ca_syn[i] > 1e-6 || bins_nm[i * nb..(i + 1) * nb].iter().any(|b| *b > 1e-6))
            .collect();
        let ca_syn = &n.ca_syn;
        let minus_bins = (self.spec.theta.minus_cycles / self.spec.theta.bin_cycles).max(1);
        for (pi, p) in self.paths.iter_mut().enumerate() {
            if !is_open(&self.gate_open, pi) {
                continue;
            }
            let ctx = LearnCtx {
                bins: &self.bins,
                nb,
                ca_bins: &bins_nm,
                bins_t: &n.bins,
                n: n_all,
                ca_syn,
                r_factor: &r_factor,
                r_err: &r_err,
                burst_prv: &n.burst_prv,
                active: &active,
                target: self.layers[p.recv].spec.kind.target_rule(),
                act_error: self.layers[p.recv].spec.act_error_gain() > 0.0,
                minus_bins,
            };
            p.learn(self.layers[p.send].start, self.lrate_sched, &ctx);
        }
    }

    /// Slow adaptation: structural weights and homeostatic synaptic scaling.
    fn slow_adapt(&mut self) {
        let n_all = self.neurons.len();
        let n = &mut self.neurons;
        // Target activities follow each unit's recent learning signal, zero-sum within a pool.
        let mut scale = vec![0.0f32; n_all];
        for l in &self.layers {
            if matches!(l.spec.kind, LayerKind::Input) {
                continue;
            }
            let ps = l.spec.shape.pool_size();
            let rate = l.spec.syn_scale_rate;
            for p in 0..l.spec.shape.pools() {
                let r = l.start + p * ps..l.start + (p + 1) * ps;
                let mean_d = n.dtrg_avg[r.clone()].iter().sum::<f32>() / ps as f32;
                let mean_a = n.act_avg[r.clone()].iter().sum::<f32>() / ps as f32;
                for i in r {
                    n.trg_avg[i] = (n.trg_avg[i] + n.dtrg_avg[i] - mean_d).clamp(0.5, 2.0);
                    n.dtrg_avg[i] = 0.0;
                    if mean_a > 1e-4 {
                        let avg_dif = n.act_avg[i] / mean_a - n.trg_avg[i];
                        scale[i] = -rate * avg_dif;
                    }
                }
            }
        }
        for p in &mut self.paths {
            p.slow_adapt(n_all);
            // A receiver that does not scale (the agents' pulvinar) has every factor 0, which
            // leaves each synapse exactly as it is: skip the pass over its pathways.
            let scales = self.layers[p.recv].spec.syn_scale_rate != 0.0;
            if !p.spec.learn || p.spec.kind == PathKind::CtCtxt || !scales {
                continue;
            }
            p.scale_weights(&scale);
        }
    }

    /// The whole network (specification, weights and every piece of state) as bytes: the
    /// `THETANET` header, a format version and a postcard body. A network read back with
    /// [`Self::from_bytes`] continues bit-identically.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        FORMAT.encode(self).map_err(|reason| BrainError::Decode {
            path: "network".into(),
            reason,
        })
    }

    /// Reads bytes written by [`Self::to_bytes`]; `origin` (a file name) names them in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let mut net: Self = FORMAT.decode(bytes).map_err(|reason| BrainError::Decode {
            path: origin.to_string(),
            reason,
        })?;
        net.spec.validate()?;
        net.rebuild_derived();
        Ok(net)
    }

    /// Saves the whole network (see [`Self::to_bytes`]) so that a loaded copy continues
    /// bit-identically.
    pub fn save(&self, path: &FsPath) -> Result<()> {
        let io = |source| BrainError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = self.to_bytes()?;
        // Write to a temporary name and rename, so a crash never leaves half a file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Loads a network written by [`Self::save`].
    pub fn load(path: &FsPath) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| BrainError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// A checksum of all weights (for determinism checks).
    pub fn weight_digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for p in &self.paths {
            for w in p.wt.iter().chain(&p.lwt).chain(&p.swt) {
                h ^= w.to_bits() as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }

    /// Mean minus-phase activity (ActM, 1 = `max_hz`) of a layer in the last theta cycle.
    pub fn layer_act_m(&self, layer: usize) -> f32 {
        let a = self.prediction(layer);
        a.iter().sum::<f32>() / a.len().max(1) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 and AVX-512 builds of the kernel must compute exactly what the portable build
    /// does, or runs would differ between machines.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn vector_builds_and_portable_kernel_are_bit_identical() {
        let (avx2, avx512) = (
            std::arch::is_x86_feature_detected!("avx2"),
            std::arch::is_x86_feature_detected!("avx512f"),
        );
        if !avx2 {
            return;
        }
        let p = NeuronParams::default();
        let k = p.consts();
        let n = 3 * LANES + 5;
        let mut a = Neurons::default();
        a.push_rest(&p, n, 1);
        let mut sc = Scratch::new(n);
        for i in 0..n {
            sc.ge_raw[i] = 0.02 * (i % 7) as f32;
            sc.gi[i] = 0.3 + 0.01 * (i % 5) as f32;
            sc.ss[i] = 0.05;
        }
        let mut b = a.clone();
        let mut c = a.clone();
        let fill = Lanes::rest(&p);
        for cycle in 0..300 {
            let job = KernelJob {
                p: &p,
                k: &k,
                sc: &sc,
                fill: &fill,
                clamped: false,
                plus: cycle >= 150,
                cut: Shortcuts::default(),
            };
            job.run_generic(0, LaneSlices::of(&mut a, 0..n));
            // SAFETY: AVX2 was detected above.
            #[allow(unsafe_code)]
            unsafe {
                job.run_avx2(0, LaneSlices::of(&mut b, 0..n))
            };
            if avx512 {
                // SAFETY: AVX-512F was detected above.
                #[allow(unsafe_code)]
                unsafe {
                    job.run_avx512(0, LaneSlices::of(&mut c, 0..n))
                };
            }
        }
        assert!(
            a.spike.iter().chain(&a.ca_p).any(|x| *x > 0.0),
            "neurons were active"
        );
        let builds = [("avx2", Some(&b)), ("avx512f", avx512.then_some(&c))];
        for (feature, got) in builds {
            let Some(got) = got else { continue };
            for (x, y) in [
                (&a.vm, &got.vm),
                (&a.ca_p, &got.ca_p),
                (&a.lca_d, &got.lca_d),
                (&a.act, &got.act),
            ] {
                assert!(
                    x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits()),
                    "{feature}"
                );
            }
        }
    }
}
