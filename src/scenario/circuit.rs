//! What an agent's scenario means for its brain: the circuit built over its retina, actions
//! and body senses, how a frame maps onto the input layer, and the learner it asks for.
//!
//! Pure functions of the scenario types (no Bevy), so `check` can build and validate the
//! circuit a run would build, and the simulation builds each agent's learner from the same
//! code.

use crate::brain::cortex::{Cortex, CortexLayers};
use crate::brain::deep::{DeepOpts, ct_name, deep_predictive, pulvinar_name};
use crate::brain::layer::{LayerKind, LayerSpec, Shape};
use crate::brain::learner::{Backprop, CopyLast, Learner};
use crate::brain::path::{PathKind, PathSpec, Pattern};
use crate::brain::{Network, NetworkSpec};

use super::{AgentSpec, BrainSpec, CortexSpec, RetinaSpec};

/// Units per population-coded vestibular variable.
pub const VESTIB_UNITS: usize = 8;
/// Vestibular variables: forward speed, sideways speed, turning rate.
pub const VESTIB_VARS: usize = 3;
/// Touch sides: front, right, back, left.
pub const TOUCH_SIDES: usize = 4;

/// Units of the action (efference copy) layer: one per possible action, up to eight.
pub const ACTION_UNITS: usize = 8;

/// The agent circuit's input (driver) layer; its pulvinar is `EyeP`.
const EYE: &str = "Eye";
/// The agent circuit's Super layer; its CT layer is `V1CT`.
const V1: &str = "V1";
/// The agent circuit's action (efference copy) layer.
const ACTION: &str = "Action";

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
        input: EYE.into(),
        hidden: V1.into(),
        action: ACTION.into(),
        hidden_shape: Shape::d4(c.pools[0], c.pools[1], c.units[0], c.units[1]),
        action_units: ACTION_UNITS,
        remap_actions: Some(a.actions.len()),
        channel_width: tiling(&a.sensors.retina).3,
        seed,
        ..c.deep.clone()
    };
    let mut spec = deep_predictive(input_shape(&a.sensors.retina), &o);
    // Body senses are context for Super and CT (not predicted: they have no pulvinar).
    for (name, shape) in sense_layers(a) {
        let mut l = LayerSpec::new(name, LayerKind::Input, shape);
        l.neuron.clamp_ge = 1.5;
        l.act_nominal = 0.25;
        spec.layers.insert(1, l);
        for to in [V1.to_string(), ct_name(V1)] {
            spec.paths.push(
                PathSpec::new(name, &to, PathKind::Forward, Pattern::Full)
                    .rel(o.action_rel)
                    .lrate(o.lrate),
            );
        }
    }
    spec
}

/// The body-sense input layers an agent has, in the order of [`Cue::senses`]
/// (vestibular, then touch): name and shape.
///
/// [`Cue::senses`]: crate::brain::learner::Cue::senses
fn sense_layers(a: &AgentSpec) -> impl Iterator<Item = (&'static str, Shape)> {
    [
        (
            a.sensors.vestibular,
            "Vestib",
            Shape::d2(VESTIB_VARS, VESTIB_UNITS),
        ),
        (a.sensors.touch, "Touch", Shape::d2(1, TOUCH_SIDES)),
    ]
    .into_iter()
    .filter_map(|(on, name, shape)| on.then_some((name, shape)))
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
    sense_layers(a).map(|(_, shape)| shape.len()).sum()
}

/// A fresh learner for an agent, as its scenario says.
pub fn new_learner(a: &AgentSpec, seed: u64) -> crate::brain::Result<Box<dyn Learner>> {
    Ok(match &a.brain {
        BrainSpec::Cortex(c) => {
            let net = Network::new(agent_network(a, c, seed))?;
            let layers = CortexLayers {
                input: EYE.into(),
                action: ACTION.into(),
                pulvinar: pulvinar_name(EYE),
                senses: sense_layers(a).map(|(name, _)| name.into()).collect(),
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
