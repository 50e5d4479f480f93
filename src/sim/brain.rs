//! One learner per agent, driven through the theta cycle by the schedule's sets.

use bevy::prelude::*;

use super::body::{Agent, Motor};
use super::retina::Eye;
use super::senses::{BodySenses, TOUCH_SIDES, VESTIB_UNITS, VESTIB_VARS};
use super::{SimConfig, ThetaSystems};
use crate::brain::cortex::{Cortex, CortexLayers};
use crate::brain::deep::{DeepOpts, deep_predictive};
use crate::brain::layer::{LayerKind, LayerSpec, Shape};
use crate::brain::learner::{Backprop, CopyLast, Cue, Learner};
use crate::brain::path::{PathKind, PathSpec, Pattern};
use crate::brain::{Network, NetworkSpec};
use crate::scenario::{AgentSpec, BrainSpec, CortexSpec, RetinaSpec};

/// Units of the action (efference copy) layer: one per possible action, up to eight.
pub const ACTION_UNITS: usize = 8;

/// An agent's brain (any [`Learner`]) and what it saw and predicted this cycle.
#[derive(Component)]
pub struct Brain {
    /// The learner: a [`Cortex`], a [`Backprop`] network, ….
    pub learner: Box<dyn Learner>,
    /// Learn after each cycle.
    pub learn: bool,
    /// Frame t: shown during the whole cycle.
    pub frame: Vec<f32>,
    /// The body senses for this cycle (vestibular ‖ touch, those the agent has).
    pub senses: Vec<f32>,
    /// The prediction of frame t+1 in frame space (made before the outcome exists).
    pub prediction: Vec<f32>,
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

/// The network of an agent's cortex `c`: the deep predictive circuit over its retina and
/// actions.
pub fn agent_network(a: &AgentSpec, c: &CortexSpec, seed: u64) -> NetworkSpec {
    let o = DeepOpts {
        input: "Eye".into(),
        hidden: "V1".into(),
        action: "Action".into(),
        hidden_shape: Shape::d4(c.pools[0], c.pools[1], c.units[0], c.units[1]),
        action_units: ACTION_UNITS,
        remap_actions: Some(a.actions.len()),
        channel_width: tiling(&a.sensors.retina).3,
        seed,
        ..c.deep.clone()
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

/// Values of the body senses an agent has (vestibular, then touch).
pub fn senses_len(a: &AgentSpec) -> usize {
    usize::from(a.sensors.vestibular) * VESTIB_VARS * VESTIB_UNITS
        + usize::from(a.sensors.touch) * TOUCH_SIDES
}

/// A fresh learner for an agent, as its scenario says.
pub fn new_learner(a: &AgentSpec, seed: u64) -> crate::brain::Result<Box<dyn Learner>> {
    Ok(match &a.brain {
        BrainSpec::Cortex(c) => {
            let net = Network::new(agent_network(a, c, seed))?;
            let senses = [(a.sensors.vestibular, "Vestib"), (a.sensors.touch, "Touch")]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| n.to_string())
                .collect();
            let layers = CortexLayers {
                input: "Eye".into(),
                action: "Action".into(),
                pulvinar: "EyeP".into(),
                senses,
            };
            Box::new(Cortex::new(
                net,
                layers,
                input_to_frame(&a.sensors.retina),
                c.outcome_to_input,
            )?)
        }
        BrainSpec::Backprop(b) => Box::new(Backprop::new(
            a.sensors.retina.frame_len(),
            a.actions.len(),
            senses_len(a),
            b.params(),
            seed,
        )?),
        BrainSpec::CopyLast => Box::new(CopyLast::default()),
    })
}

/// The learner an agent's scenario asks for, read from bytes written by
/// [`Learner::to_bytes`]; `origin` names them in errors.
pub fn learner_from_bytes(
    a: &AgentSpec,
    seed: u64,
    bytes: &[u8],
    origin: &str,
) -> crate::brain::Result<Box<dyn Learner>> {
    let mut l = new_learner(a, seed)?;
    if l.kind() == "copy" {
        return Ok(l);
    }
    if let Some(c) = l.as_any_mut().downcast_mut::<Cortex>() {
        c.restore_bytes(bytes, origin)?;
        return Ok(l);
    }
    Ok(Box::new(Backprop::from_bytes(
        bytes,
        origin,
        a.sensors.retina.frame_len(),
        a.actions.len(),
        senses_len(a),
    )?))
}

impl Brain {
    /// A fresh brain for an agent.
    pub fn new(a: &AgentSpec, seed: u64) -> crate::brain::Result<Self> {
        let n = a.sensors.retina.frame_len();
        Ok(Self {
            learner: new_learner(a, seed)?,
            learn: a.brain.learns(),
            frame: vec![0.0; n],
            senses: vec![0.0; senses_len(a)],
            prediction: vec![0.0; n],
        })
    }

    /// The cortex, if this brain is one.
    pub fn cortex(&self) -> Option<&Cortex> {
        self.learner.as_any().downcast_ref()
    }

    /// What the brain would predict for this cycle's frame if it were about to take the action
    /// of unit `action_unit` instead: a minus phase on a copy of the learner (the brain itself
    /// is untouched). Returns the prediction (frame order).
    pub fn counterfactual(&self, action_unit: usize) -> crate::brain::Result<Vec<f32>> {
        let mut copy = self.learner.clone_box();
        let p = copy.predict(&Cue {
            frame: &self.frame,
            action: action_unit,
            senses: &self.senses,
        })?;
        Ok(p.to_vec())
    }

    /// Minus phase: frame t and the action about to be taken in, prediction out.
    pub fn minus(&mut self, action_unit: usize) -> crate::brain::Result<()> {
        let p = self.learner.predict(&Cue {
            frame: &self.frame,
            action: action_unit,
            senses: &self.senses,
        })?;
        self.prediction.copy_from_slice(p);
        Ok(())
    }

    /// Plus phase: the outcome.
    pub fn plus(&mut self, outcome: &[f32]) -> crate::brain::Result<()> {
        self.learner.outcome(outcome)
    }

    /// Learning (or not, for a fixed brain).
    pub fn finish(&mut self) -> crate::brain::Result<()> {
        self.learner.learn(self.learn)
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

fn take_frames(cfg: Res<SimConfig>, mut q: Query<(&Agent, &Eye, Option<&BodySenses>, &mut Brain)>) {
    for (a, eye, senses, mut b) in &mut q {
        b.frame.copy_from_slice(&eye.frame);
        if let Some(s) = senses {
            let spec = &cfg.scenario.agents[a.index].sensors;
            let mut at = 0;
            if spec.vestibular {
                b.senses[..s.vestibular.len()].copy_from_slice(&s.vestibular);
                at = s.vestibular.len();
            }
            if spec.touch {
                b.senses[at..at + TOUCH_SIDES].copy_from_slice(&s.touch);
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

    #[test]
    fn an_agent_gets_one_remapping_pathway_per_action_it_has() {
        let sc = crate::scenario::look_around();
        let a = &sc.agents[0];
        let spec = agent_network(a, &CortexSpec::default(), 0);
        let gates: Vec<usize> = spec
            .paths
            .iter()
            .filter_map(|p| p.gate.as_ref().map(|g| g.unit))
            .collect();
        assert_eq!(gates, (0..a.actions.len()).collect::<Vec<_>>());
        assert!(a.actions.len() < ACTION_UNITS);
    }
}
