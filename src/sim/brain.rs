//! One learner per agent, driven through the theta cycle by the schedule's sets.

use bevy::prelude::*;

use super::body::{Agent, Motor};
use super::metrics::MonotoneDecoder;
use super::retina::Eye;
use super::senses::{BodySenses, TOUCH_SIDES, VESTIB_UNITS, VESTIB_VARS};
use super::{SimConfig, ThetaSystems};
use crate::brain::deep::{DeepOpts, deep_predictive};
use crate::brain::layer::{LayerKind, LayerSpec, Shape};
use crate::brain::path::{PathKind, PathSpec, Pattern};
use crate::brain::{Network, NetworkSpec};
use crate::scenario::{AgentSpec, RetinaSpec};

/// Units of the action (efference copy) layer: one per possible action, up to eight.
pub const ACTION_UNITS: usize = 8;

/// An agent's brain and what it saw and predicted this cycle.
#[derive(Component)]
pub struct Brain {
    /// The learner.
    pub net: Network,
    /// Input (driver) layer index.
    pub input: usize,
    /// Action layer index.
    pub action: usize,
    /// Pulvinar layer index.
    pub pulvinar: usize,
    /// Vestibular layer index and its values for this cycle.
    pub vestibular: Option<(usize, Vec<f32>)>,
    /// Touch layer index and its values for this cycle.
    pub touch: Option<(usize, Vec<f32>)>,
    /// Learn after each cycle.
    pub learn: bool,
    /// The input layer also shows the outcome in the plus phase.
    pub outcome_to_input: bool,
    /// Frame t: shown during the whole cycle.
    pub frame: Vec<f32>,
    /// The pulvinar's minus-phase activity: the prediction of frame t+1 (frame order).
    pub pred_act: Vec<f32>,
    /// The prediction in frame space (decoded before the outcome exists).
    pub prediction: Vec<f32>,
    /// Maps pulvinar activity (input order) to pixel values.
    pub decoder: MonotoneDecoder,
    /// Frame index of each input unit.
    pub perm: Vec<usize>,
    /// Scratch: a frame in input order.
    staged: Vec<f32>,
}

/// How a retina's image is cut into pools: `(pools_y, pools_x, tile_h, tile_w)`.
///
/// Tiles are square with the smallest side that divides both image sides and leaves at most
/// four tiles per side of the shorter one (16×16 → 4×4 tiles of 4×4 pixels; 8×8 → 2×2 px).
pub fn tiling(r: &RetinaSpec) -> (usize, usize, usize, usize) {
    let (w, h) = (r.width as usize, r.height as usize);
    let g = gcd(w, h);
    let t = (1..=g)
        .find(|t| g.is_multiple_of(*t) && w.min(h) / t <= 4)
        .unwrap_or(g);
    (h / t, w / t, t, t)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The input (and pulvinar) shape for a retina: one pool per tile, each holding the tile's
/// pixels of every channel side by side (units_x = channels × tile width).
pub fn input_shape(r: &RetinaSpec) -> Shape {
    let (py, px, th, tw) = tiling(r);
    Shape::d4(py, px, th, tw * r.channels_per_pixel())
}

/// For each input unit, the index of its value in the frame (channel planes, row-major).
pub fn input_to_frame(r: &RetinaSpec) -> Vec<usize> {
    let (py, px, th, tw) = tiling(r);
    let (w, h, c) = (r.width as usize, r.height as usize, r.channels_per_pixel());
    let mut perm = Vec::with_capacity(w * h * c);
    for pyi in 0..py {
        for pxi in 0..px {
            for uy in 0..th {
                for ux in 0..tw * c {
                    let (ch, x) = (ux / tw, pxi * tw + ux % tw);
                    let y = pyi * th + uy;
                    perm.push(ch * w * h + y * w + x);
                }
            }
        }
    }
    perm
}

/// The network of an agent: the deep predictive circuit over its retina and actions.
pub fn agent_network(a: &AgentSpec, seed: u64) -> NetworkSpec {
    let o = DeepOpts {
        input: "Eye".into(),
        hidden: "V1".into(),
        action: "Action".into(),
        hidden_shape: Shape::d4(
            a.brain.pools[0],
            a.brain.pools[1],
            a.brain.units[0],
            a.brain.units[1],
        ),
        action_units: ACTION_UNITS,
        seed,
        ..a.brain.deep.clone()
    };
    let mut spec = deep_predictive(input_shape(&a.sensors.retina), &o);
    // Body senses are context for Super and CT (not predicted: they have no pulvinar).
    let extra = [
        (
            a.sensors.vestibular,
            "Vestib",
            Shape::d2(VESTIB_VARS, VESTIB_UNITS),
        ),
        (a.sensors.touch, "Touch", Shape::d2(1, TOUCH_SIDES)),
    ];
    for (on, name, shape) in extra {
        if !on {
            continue;
        }
        let mut l = LayerSpec::new(name, LayerKind::Input, shape);
        l.neuron.clamp_ge = 1.5;
        l.act_nominal = 0.25;
        spec.layers.insert(1, l);
        for to in ["V1", "V1CT"] {
            spec.paths.push(
                PathSpec::new(name, to, PathKind::Forward, Pattern::Full)
                    .rel(o.action_rel)
                    .lrate(o.lrate),
            );
        }
    }
    spec
}

/// Seed of agent `index`'s brain for a run seed.
pub fn brain_seed(run_seed: u64, index: usize) -> u64 {
    run_seed
        .wrapping_add(1)
        .wrapping_mul(0xA24B_AED4_963E_E407)
        .wrapping_add(index as u64)
}

impl Brain {
    /// A fresh brain for an agent.
    pub fn new(a: &AgentSpec, seed: u64) -> crate::brain::Result<Self> {
        let net = Network::new(agent_network(a, seed))?;
        let input = net.layer_index("Eye")?;
        let action = net.layer_index("Action")?;
        let pulvinar = net.layer_index("EyeP")?;
        let vestibular = a
            .sensors
            .vestibular
            .then(|| {
                net.layer_index("Vestib")
                    .map(|i| (i, vec![0.0; VESTIB_VARS * VESTIB_UNITS]))
            })
            .transpose()?;
        let touch = a
            .sensors
            .touch
            .then(|| {
                net.layer_index("Touch")
                    .map(|i| (i, vec![0.0; TOUCH_SIDES]))
            })
            .transpose()?;
        let n = a.sensors.retina.frame_len();
        Ok(Self {
            net,
            input,
            action,
            pulvinar,
            vestibular,
            touch,
            learn: a.brain.learn,
            outcome_to_input: a.brain.outcome_to_input,
            frame: vec![0.0; n],
            pred_act: vec![0.0; n],
            prediction: vec![0.0; n],
            decoder: MonotoneDecoder::new(n),
            perm: input_to_frame(&a.sensors.retina),
            staged: vec![0.0; n],
        })
    }

    fn stage(&mut self, frame: &[f32]) {
        for (s, &f) in self.staged.iter_mut().zip(&self.perm) {
            *s = frame[f];
        }
    }

    /// What the brain would predict for this cycle's frame if it were about to take the action
    /// of unit `action_unit` instead: a minus phase on a copy of the network (the brain itself
    /// is untouched). Call before [`Self::minus`]; returns the decoded prediction (frame order).
    pub fn counterfactual(&mut self, action_unit: usize) -> crate::brain::Result<Vec<f32>> {
        let saved = self.net.clone();
        let (pa, pr) = (self.pred_act.clone(), self.prediction.clone());
        let res = self.minus(action_unit).map(|()| self.prediction.clone());
        self.net = saved;
        self.pred_act = pa;
        self.prediction = pr;
        res
    }

    /// Minus phase: frame t and the action about to be taken in, prediction out.
    pub fn minus(&mut self, action_unit: usize) -> crate::brain::Result<()> {
        self.net.start_theta()?;
        let frame = std::mem::take(&mut self.frame);
        self.stage(&frame);
        self.frame = frame;
        self.net.set_input(self.input, &self.staged)?;
        let mut act = [0.0f32; ACTION_UNITS];
        act[action_unit.min(ACTION_UNITS - 1)] = 1.0;
        self.net.set_input(self.action, &act)?;
        for (layer, values) in [&self.vestibular, &self.touch].into_iter().flatten() {
            self.net.set_input(*layer, values)?;
        }
        self.net.run_minus()?;
        let pred = self.net.prediction(self.pulvinar);
        let decoded = self.decoder.decode(pred);
        for (k, &f) in self.perm.iter().enumerate() {
            self.pred_act[f] = pred[k];
            self.prediction[f] = decoded[k];
        }
        Ok(())
    }

    /// Plus phase: the outcome drives the pulvinar; the decoder learns from it.
    pub fn plus(&mut self, outcome: &[f32]) -> crate::brain::Result<()> {
        self.stage(outcome);
        if self.outcome_to_input {
            self.net.set_input(self.input, &self.staged)?;
        }
        self.net.apply_outcome(self.input, &self.staged)?;
        self.net.run_plus()?;
        self.decoder
            .observe(self.net.outcome_activity(self.pulvinar), &self.staged);
        Ok(())
    }

    /// Learning (or not, for a fixed brain).
    pub fn finish(&mut self) -> crate::brain::Result<()> {
        if self.learn {
            self.net.learn()
        } else {
            self.net.skip_learning()
        }
    }
}

/// The first error a brain reported; the runner stops and reports it.
#[derive(Resource, Default, Debug)]
pub struct BrainFault(pub Option<String>);

/// Builds brains and runs their phases.
pub struct BrainPlugin;

impl Plugin for BrainPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<BrainFault>()
            .add_systems(PostStartup, attach_brains)
            .add_systems(
                FixedUpdate,
                (
                    take_frames
                        .in_set(ThetaSystems::Sense)
                        .after(super::motor::choose_actions),
                    minus_phase.in_set(ThetaSystems::MinusPhase),
                    plus_phase.in_set(ThetaSystems::PlusPhase),
                    learn.in_set(ThetaSystems::Learn),
                ),
            );
    }
}

fn attach_brains(
    mut commands: Commands,
    cfg: Res<SimConfig>,
    mut fault: ResMut<BrainFault>,
    q: Query<(Entity, &Agent)>,
) {
    if !cfg.brains {
        return;
    }
    for (e, a) in &q {
        let spec = &cfg.scenario.agents[a.index];
        match Brain::new(spec, brain_seed(cfg.seed, a.index)) {
            Ok(b) => {
                commands.entity(e).insert(b);
            }
            Err(err) => {
                fault
                    .0
                    .get_or_insert(format!("agent `{}`: brain: {err}", a.name));
            }
        }
    }
}

fn take_frames(mut q: Query<(&Eye, Option<&BodySenses>, &mut Brain)>) {
    for (eye, senses, mut b) in &mut q {
        b.frame.copy_from_slice(&eye.frame);
        if let Some(s) = senses {
            if let Some((_, v)) = &mut b.vestibular {
                v.copy_from_slice(&s.vestibular);
            }
            if let Some((_, v)) = &mut b.touch {
                v.copy_from_slice(&s.touch);
            }
        }
    }
}

/// Failures of one phase run over all agents in parallel; the first in agent order is kept.
#[derive(Default)]
struct PhaseErrors(std::sync::Mutex<Vec<(usize, String)>>);

impl PhaseErrors {
    fn check(&self, a: &Agent, r: crate::brain::Result<()>) {
        if let Err(e) = r {
            let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
            v.push((a.index, format!("agent `{}`: {e}", a.name)));
        }
    }

    fn report(self, fault: &mut BrainFault) {
        let errs = self.0.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some((_, e)) = errs.into_iter().min() {
            fault.0.get_or_insert(e);
        }
    }
}

fn minus_phase(
    cfg: Res<SimConfig>,
    mut fault: ResMut<BrainFault>,
    mut q: Query<(&Agent, &Motor, &mut Brain)>,
) {
    let errs = PhaseErrors::default();
    q.par_iter_mut().for_each(|(a, m, mut b)| {
        let unit = cfg.scenario.agents[a.index]
            .actions
            .iter()
            .position(|x| *x == m.action)
            .unwrap_or(0);
        errs.check(a, b.minus(unit));
    });
    errs.report(&mut fault);
}

fn plus_phase(mut fault: ResMut<BrainFault>, mut q: Query<(&Agent, &Eye, &mut Brain)>) {
    let errs = PhaseErrors::default();
    q.par_iter_mut()
        .for_each(|(a, eye, mut b)| errs.check(a, b.plus(&eye.frame)));
    errs.report(&mut fault);
}

fn learn(mut fault: ResMut<BrainFault>, mut q: Query<(&Agent, &mut Brain)>) {
    let errs = PhaseErrors::default();
    q.par_iter_mut()
        .for_each(|(a, mut b)| errs.check(a, b.finish()));
    errs.report(&mut fault);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiling_and_permutation_cover_the_frame_once() {
        for (w, h, ch) in [(16, 16, 2), (8, 8, 1), (32, 24, 3), (13, 7, 1)] {
            let r = RetinaSpec {
                width: w,
                height: h,
                channels: match ch {
                    1 => vec![crate::scenario::Channel::Luminance],
                    2 => vec![
                        crate::scenario::Channel::Luminance,
                        crate::scenario::Channel::Depth,
                    ],
                    _ => vec![crate::scenario::Channel::Rgb],
                },
                ..Default::default()
            };
            let mut p = input_to_frame(&r);
            assert_eq!(p.len(), r.frame_len());
            assert_eq!(input_shape(&r).len(), r.frame_len());
            p.sort_unstable();
            assert!(p.iter().enumerate().all(|(i, v)| i == *v), "{w}×{h}×{ch}");
        }
        let r = RetinaSpec::default();
        assert_eq!(tiling(&r), (4, 4, 4, 4));
        // Pool 0 holds the top-left 4×4 tile: luminance first, then depth.
        let p = input_to_frame(&r);
        assert_eq!(&p[..5], &[0, 1, 2, 3, 256]);
        assert_eq!(p[8], 16);
    }
}
