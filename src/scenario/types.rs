//! The scenario file format: plain serde types, one per RON struct or enum.
//!
//! Every struct rejects unknown fields; every field that has a sensible default may be left out
//! (the defaults are documented on the field). Lengths are metres, angles degrees, colours linear
//! RGB in [0, 1], time theta cycles (200 ms each) unless a field says otherwise.

use serde::{Deserialize, Serialize};

use crate::brain::backprop::BackpropParams;
use crate::brain::deep::DeepOpts;

/// A 3-vector, written `(x, y, z)`; y is up.
pub type V3 = [f32; 3];
/// A colour, written `(r, g, b)` in [0, 1].
pub type Rgb = [f32; 3];

/// One scenario: a world, the agents in it, how long to run and what must hold at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name used in reports.
    pub name: String,
    /// What the scenario shows (free text).
    #[serde(default)]
    pub description: String,
    /// The arena and everything in it.
    pub world: World,
    /// The agents (at least one).
    pub agents: Vec<AgentSpec>,
    /// Length, physics stepping and seed.
    #[serde(default)]
    pub run: RunSpec,
    /// What must hold over the final window of the run.
    #[serde(default)]
    pub expect: Vec<Expectation>,
}

/// The static world: arena, lights, objects and spawners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Floor and walls.
    #[serde(default)]
    pub arena: Arena,
    /// Light sources (none: ambient light only).
    #[serde(default = "default_lights")]
    pub lights: Vec<Light>,
    /// Ambient light level in [0, 1]. Default 0.35.
    #[serde(default = "default_ambient")]
    pub ambient: f32,
    /// Colour seen where a ray hits nothing (beyond the walls or above them). Default (0.55, 0.7, 0.9).
    #[serde(default = "default_sky")]
    pub sky: Rgb,
    /// Gravity, m/s² downwards. Default 9.81.
    #[serde(default = "default_gravity")]
    pub gravity: f32,
    /// Objects placed by hand.
    #[serde(default)]
    pub objects: Vec<Object>,
    /// Objects scattered at random (seeded by the run's seed).
    #[serde(default)]
    pub spawners: Vec<Spawner>,
}

fn default_lights() -> Vec<Light> {
    vec![Light::Directional {
        direction: [-0.4, -1.0, -0.3],
        intensity: 0.8,
    }]
}
fn default_ambient() -> f32 {
    0.35
}
fn default_sky() -> Rgb {
    [0.55, 0.7, 0.9]
}
fn default_gravity() -> f32 {
    9.81
}

/// A rectangular floor centred on the origin, with four walls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Arena {
    /// Floor extent along x and z, metres. Default (10, 10).
    pub size: [f32; 2],
    /// Wall height, metres (0: no walls). Default 2.
    pub wall_height: f32,
    /// Floor colour. Default (0.5, 0.5, 0.5).
    pub floor_color: Rgb,
    /// Colours of the walls at −z (north), +x (east), +z (south), −x (west): a list of four.
    pub wall_colors: Vec<Rgb>,
}

impl Default for Arena {
    fn default() -> Self {
        Self {
            size: [10.0, 10.0],
            wall_height: 2.0,
            floor_color: [0.5, 0.5, 0.5],
            wall_colors: vec![
                [0.8, 0.25, 0.2],
                [0.25, 0.7, 0.3],
                [0.25, 0.35, 0.85],
                [0.85, 0.8, 0.3],
            ],
        }
    }
}

/// A light source. Lights add Lambert shading on top of the ambient level; no shadows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Light {
    /// Sunlight from one direction.
    Directional {
        /// Direction the light travels (need not be normalised).
        direction: V3,
        /// Strength in [0, 4].
        intensity: f32,
    },
    /// A lamp, fading with the square of the distance beyond `range`.
    Point {
        /// Position.
        position: V3,
        /// Strength in [0, 4].
        intensity: f32,
        /// Distance at which the light is at half strength, metres.
        range: f32,
    },
}

/// Shape and size of an object.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Shape {
    /// A box with full side lengths `size`.
    Box {
        /// Full extents along x, y, z.
        size: V3,
    },
    /// A ball.
    Sphere {
        /// Radius.
        radius: f32,
    },
    /// An upright capsule.
    Capsule {
        /// Radius.
        radius: f32,
        /// Total height, caps included (≥ 2 × radius).
        height: f32,
    },
    /// An upright cylinder.
    Cylinder {
        /// Radius.
        radius: f32,
        /// Height.
        height: f32,
    },
}

impl Shape {
    /// Radius of a bounding sphere around the shape's centre.
    pub fn bounding_radius(&self) -> f32 {
        match *self {
            Shape::Box { size } => {
                0.5 * (size[0] * size[0] + size[1] * size[1] + size[2] * size[2]).sqrt()
            }
            Shape::Sphere { radius } => radius,
            Shape::Capsule { radius, height } => (0.5 * height).max(radius),
            Shape::Cylinder { radius, height } => (radius * radius + 0.25 * height * height).sqrt(),
        }
    }

    /// Half extents of an axis-aligned box around the (unrotated) shape.
    pub fn half_extents(&self) -> V3 {
        match *self {
            Shape::Box { size } => [size[0] / 2.0, size[1] / 2.0, size[2] / 2.0],
            Shape::Sphere { radius } => [radius; 3],
            Shape::Capsule { radius, height } | Shape::Cylinder { radius, height } => {
                [radius, height / 2.0, radius]
            }
        }
    }
}

/// How an object moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Motion {
    /// Never moves (a pillar, a table).
    #[default]
    Static,
    /// Falls, bounces, can be pushed.
    Dynamic,
}

/// Surface and mass of an object.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Material {
    /// Mass, kg (dynamic objects). Default 1.
    pub mass: f32,
    /// Bounciness in [0, 1]. Default 0.3.
    pub restitution: f32,
    /// Friction coefficient in [0, 2]. Default 0.5.
    pub friction: f32,
}

impl Default for Material {
    fn default() -> Self {
        Self {
            mass: 1.0,
            restitution: 0.3,
            friction: 0.5,
        }
    }
}

/// An object placed by hand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// Shape and size.
    pub shape: Shape,
    /// Colour.
    pub color: Rgb,
    /// Centre position.
    pub pos: V3,
    /// Rotation about the vertical axis, degrees.
    #[serde(default)]
    pub yaw: f32,
    /// Static or dynamic. Default Static.
    #[serde(default)]
    pub motion: Motion,
    /// Mass and surface.
    #[serde(default)]
    pub material: Material,
}

/// An axis-aligned region.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Lower corner.
    pub min: V3,
    /// Upper corner.
    pub max: V3,
}

/// Scatters `count` objects at random spots of a region, optionally again and again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spawner {
    /// How many objects.
    pub count: u32,
    /// Their shape.
    pub shape: Shape,
    /// Their colour; none: a random saturated colour each.
    #[serde(default)]
    pub color: Option<Rgb>,
    /// Where their centres go.
    pub region: Region,
    /// Static or dynamic. Default Dynamic.
    #[serde(default = "default_dynamic")]
    pub motion: Motion,
    /// Mass and surface.
    #[serde(default)]
    pub material: Material,
    /// Move every object of this spawner to a new random spot (at rest) every this many theta
    /// cycles; none: only at the start.
    #[serde(default)]
    pub respawn_every: Option<u32>,
}

fn default_dynamic() -> Motion {
    Motion::Dynamic
}

/// The agent's body: an upright capsule moved by a kinematic character controller.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Body {
    /// Capsule radius. Default 0.3.
    pub radius: f32,
    /// Capsule height, caps included. Default 1.2.
    pub height: f32,
    /// Eye height above the floor. Default 1.0.
    pub eye_height: f32,
    /// Body colour, as other agents see it. Default (0.9, 0.9, 0.9).
    pub color: Rgb,
    /// Walking speed, m/s. Default 1.5.
    pub speed: f32,
    /// Turning rate, degrees/s. Default 90.
    pub turn_rate: f32,
}

impl Default for Body {
    fn default() -> Self {
        Self {
            radius: 0.3,
            height: 1.2,
            eye_height: 1.0,
            color: [0.9, 0.9, 0.9],
            speed: 1.5,
            turn_rate: 90.0,
        }
    }
}

/// What a retina pixel reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// Brightness (mean of the shaded r, g, b).
    Luminance,
    /// Shaded colour: three channels.
    Rgb,
    /// Distance along the ray divided by `max_range`, 1 where nothing is hit.
    Depth,
}

impl Channel {
    /// Number of frame channels it occupies.
    pub fn width(self) -> usize {
        match self {
            Channel::Rgb => 3,
            _ => 1,
        }
    }
}

/// An egocentric camera.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetinaSpec {
    /// Pixels across, 4..=128. Default 16.
    pub width: u32,
    /// Pixels down, 4..=128. Default 16.
    pub height: u32,
    /// Horizontal field of view, degrees in (0, 180). Default 90.
    pub fov: f32,
    /// Channels, in frame order. Default [Luminance, Depth].
    pub channels: Vec<Channel>,
    /// Depth that maps to 1, metres. Default 15.
    pub max_range: f32,
    /// Camera pitch, degrees (negative looks down). Default −10.
    pub pitch: f32,
    /// What renders the frames. Default `Raycast`.
    pub backend: EyeBackend,
}

/// Which code renders an eye's frames; both give the same frame layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EyeBackend {
    /// One ray per pixel against the colliders, Lambert shading: headless, bit-for-bit
    /// deterministic, no GPU.
    #[default]
    Raycast,
    /// Bevy's renderer (PBR, through a GPU or Mesa's lavapipe), in the viewer; depth still
    /// comes from the rays. Headless runs (`thetabox run`, batches) ray cast instead.
    Camera,
}

impl Default for RetinaSpec {
    fn default() -> Self {
        Self {
            width: 16,
            height: 16,
            fov: 90.0,
            channels: vec![Channel::Luminance, Channel::Depth],
            max_range: 15.0,
            pitch: -10.0,
            backend: EyeBackend::Raycast,
        }
    }
}

impl RetinaSpec {
    /// Channels per pixel.
    pub fn channels_per_pixel(&self) -> usize {
        self.channels.iter().map(|c| c.width()).sum()
    }

    /// Values per frame.
    pub fn frame_len(&self) -> usize {
        (self.width * self.height) as usize * self.channels_per_pixel()
    }
}

/// What the agent senses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sensors {
    /// The eye.
    pub retina: RetinaSpec,
    /// Linear and angular velocity, population-coded (an extra brain input). Default false.
    pub vestibular: bool,
    /// Contacts on the front, right, back and left of the body (an extra brain input). Default false.
    pub touch: bool,
}

/// A discrete action, taken for a whole theta cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Walk forwards.
    Forward,
    /// Walk backwards.
    Back,
    /// Turn to the left (counter-clockwise seen from above).
    TurnLeft,
    /// Turn to the right.
    TurnRight,
    /// Do nothing.
    Stay,
}

impl Action {
    /// Name as written in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Action::Forward => "Forward",
            Action::Back => "Back",
            Action::TurnLeft => "TurnLeft",
            Action::TurnRight => "TurnRight",
            Action::Stay => "Stay",
        }
    }

    /// The action called `name` (as [`Self::name`] writes it).
    pub fn from_name(name: &str) -> Option<Self> {
        use Action::*;
        [Forward, Back, TurnLeft, TurnRight, Stay]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

fn default_actions() -> Vec<Action> {
    vec![
        Action::Forward,
        Action::Back,
        Action::TurnLeft,
        Action::TurnRight,
        Action::Stay,
    ]
}

/// How the agent chooses its actions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Policy {
    /// A random action from the agent's list, repeating the last one with probability `persistence`.
    Random {
        /// Probability of keeping the last action, [0, 1).
        persistence: f32,
    },
    /// A looping list of actions.
    Scripted(Vec<Action>),
    /// The keyboard (arrow keys / WASD) in the viewer; `Stay` when headless.
    Keyboard,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::Random { persistence: 0.8 }
    }
}

/// A cortical brain (`brain: Cortex(...)`): the deep predictive circuit of the learner
/// (defaults: `DeepOpts::agent()`).
///
/// The eye's image is cut into a grid of tiles (about 4×4); each tile is one pool of the input
/// and pulvinar layers. Super and CT have `pools` pools of `units` units each; the pathways
/// between them and the sensory layers connect every unit by default, or only pools within
/// `deep.tile_radius` when that is set (`deep: (tile_radius: Some(1))`: a third of the synapses).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CortexSpec {
    /// Pool grid of Super and CT (rows, columns). Default (4, 4).
    pub pools: [usize; 2],
    /// Units per pool (rows, columns). Default (5, 5): 400 units in all.
    pub units: [usize; 2],
    /// Every other option of the circuit (inhibition, context, learning rates); see `DeepOpts`.
    /// The fields given override `DeepOpts::agent()` one by one, nested blocks (`theta`)
    /// too: `deep: (lrate: 0.1)` changes the learning rate and nothing else. Layer names and
    /// sizes and the seed come from the agent and may not be set here.
    #[serde(deserialize_with = "deep_over_agent")]
    pub deep: DeepOpts,
    /// Learn (false: a fixed random brain, a control). Default true.
    pub learn: bool,
    /// In the plus phase the input layer shows the outcome too (Axon's scheme), so Super's
    /// plus-phase state, and with it CT's context for the next cycle, carries the new frame.
    /// Default true; false: the outcome reaches only the pulvinar.
    pub outcome_to_input: bool,
}

impl Default for CortexSpec {
    fn default() -> Self {
        Self {
            pools: [4, 4],
            units: [5, 5],
            deep: DeepOpts::agent(),
            learn: true,
            outcome_to_input: true,
        }
    }
}

/// `DeepOpts` fields the sandbox sets from the agent (its retina, `pools`/`units`, the run's
/// seed), refused in a scenario's `deep` block rather than silently overwritten.
const DEEP_SET_BY_AGENT: [&str; 8] = [
    "input",
    "hidden",
    "hidden_shape",
    "action",
    "action_units",
    "remap_actions",
    "channel_width",
    "seed",
];

/// Reads a `deep` block as a patch over `DeepOpts::agent()`. A derived `Deserialize` would
/// fill the fields left out from `DeepOpts::default()` (the Reber circuit), so a one-field
/// block would silently change the whole circuit.
fn deep_over_agent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DeepOpts, D::Error> {
    use ron::Value;
    use serde::de::Error;
    let given = Value::deserialize(d)?;
    if let Value::Map(m) = &given {
        for (k, _) in m.iter() {
            if let Value::String(k) = k
                && DEEP_SET_BY_AGENT.contains(&k.as_str())
            {
                return Err(D::Error::custom(format!(
                    "`deep.{k}` is set from the agent (retina, `pools`, `units`, the run's \
                     seed); leave it out"
                )));
            }
        }
    }
    let mut merged = ron::to_string(&DeepOpts::agent())
        .ok()
        .and_then(|t| ron::from_str::<Value>(&t).ok())
        .ok_or_else(|| D::Error::custom("the agent circuit's options do not serialise"))?;
    merge_value(&mut merged, given);
    DeepOpts::deserialize(merged).map_err(|e| match e {
        ron::Error::NoSuchStructField {
            expected, found, ..
        } => D::Error::unknown_field(&found, expected),
        e => D::Error::custom(format!("in `deep`: {e}")),
    })
}

/// Overwrites `base` with `given`, recursing where both are maps (struct blocks); `()`, an
/// empty block, changes nothing.
fn merge_value(base: &mut ron::Value, given: ron::Value) {
    match (base, given) {
        (ron::Value::Map(_), ron::Value::Unit) => {}
        (ron::Value::Map(b), ron::Value::Map(g)) => {
            for (k, v) in g {
                match b.get_mut(&k) {
                    Some(bv) => merge_value(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, g) => *b = g,
    }
}

/// A backprop brain (`brain: Backprop(...)`): an Elman network predicting the next frame from
/// the frame, a one-hot action and the senses, trained online (see `brain::backprop`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackpropSpec {
    /// Hidden (context) units. Default 128.
    pub hidden: usize,
    /// Adam step size. Default 0.0005.
    pub lrate: f32,
    /// Steps the error is propagated back through (1: Elman's one-step rule). Default 4.
    pub bptt: usize,
    /// Largest gradient norm. Default 5.
    pub clip: f32,
    /// Direct input-to-output weights besides the hidden layer. Default true.
    pub skip: bool,
    /// Predict the change: start from frame t (in logit space) and learn what differs, the
    /// output weights starting at zero. Default true; false: Elman's network as published.
    pub residual: bool,
    /// Learn (false: a fixed random network, a control). Default true.
    pub learn: bool,
}

impl Default for BackpropSpec {
    fn default() -> Self {
        let p = BackpropParams::default();
        Self {
            hidden: p.hidden,
            lrate: p.lrate,
            bptt: p.bptt,
            clip: p.clip,
            skip: p.skip,
            residual: p.residual,
            learn: true,
        }
    }
}

impl BackpropSpec {
    /// The learner's parameters.
    pub fn params(&self) -> BackpropParams {
        BackpropParams {
            hidden: self.hidden,
            lrate: self.lrate,
            bptt: self.bptt,
            clip: self.clip,
            skip: self.skip,
            residual: self.residual,
            ..Default::default()
        }
    }
}

/// The agent's brain: `Cortex(...)` (default), `Backprop(...)` or `CopyLast`. All predict the
/// next frame in the same layout, so every metric compares directly.
// One per agent, read once: the size of the cortex's options does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BrainSpec {
    /// The cortical learner.
    Cortex(CortexSpec),
    /// The backprop baseline.
    Backprop(BackpropSpec),
    /// No learning at all: the prediction is frame t (the copy baseline, as a brain).
    CopyLast,
}

impl Default for BrainSpec {
    fn default() -> Self {
        BrainSpec::Cortex(CortexSpec::default())
    }
}

impl BrainSpec {
    /// Whether the brain learns.
    pub fn learns(&self) -> bool {
        match self {
            BrainSpec::Cortex(c) => c.learn,
            BrainSpec::Backprop(b) => b.learn,
            BrainSpec::CopyLast => false,
        }
    }

    /// `cortex` or `backprop`.
    pub fn kind(&self) -> &'static str {
        match self {
            BrainSpec::Cortex(_) => "cortex",
            BrainSpec::Backprop(_) => "backprop",
            BrainSpec::CopyLast => "copy",
        }
    }
}

/// One agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Name used in reports; unique in the scenario.
    pub name: String,
    /// Start position on the floor (x, z).
    pub pos: [f32; 2],
    /// Start heading, degrees (0 faces −z, 90 faces −x).
    #[serde(default)]
    pub yaw: f32,
    /// Body.
    #[serde(default)]
    pub body: Body,
    /// Senses.
    #[serde(default)]
    pub sensors: Sensors,
    /// Actions available (at most 8). Default all five.
    #[serde(default = "default_actions")]
    pub actions: Vec<Action>,
    /// Action choice. Default Random(persistence: 0.8).
    #[serde(default)]
    pub policy: Policy,
    /// Brain.
    #[serde(default)]
    pub brain: BrainSpec,
}

/// Fields every agent of a scenario shares unless it sets them itself, written
/// `agent_defaults: (...)` next to `agents`. An agent's own value replaces the shared one whole:
/// an agent that gives `brain` or `sensors` does not merge it with the shared block. Fields left
/// out here keep the defaults documented on [`AgentSpec`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDefaults {
    /// Start heading, degrees.
    #[serde(default, deserialize_with = "some")]
    pub yaw: Option<f32>,
    /// Body.
    #[serde(default, deserialize_with = "some")]
    pub body: Option<Body>,
    /// Senses.
    #[serde(default, deserialize_with = "some")]
    pub sensors: Option<Sensors>,
    /// Actions available.
    #[serde(default, deserialize_with = "some")]
    pub actions: Option<Vec<Action>>,
    /// Action choice.
    #[serde(default, deserialize_with = "some")]
    pub policy: Option<Policy>,
    /// Brain.
    #[serde(default, deserialize_with = "some")]
    pub brain: Option<BrainSpec>,
}

/// A field written plainly (`body: (...)`, not `body: Some((...))`) that may be left out.
fn some<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A scenario as written in a file: [`Scenario`] plus `agent_defaults`, whose agents may leave
/// out what the defaults give.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub(crate) struct ScenarioFile {
    name: String,
    #[serde(default)]
    description: String,
    world: World,
    #[serde(default)]
    agent_defaults: AgentDefaults,
    agents: Vec<AgentFile>,
    #[serde(default)]
    run: RunSpec,
    #[serde(default)]
    expect: Vec<Expectation>,
}

/// An agent as written in a file: the fields of [`AgentSpec`], each but `name` and `pos`
/// optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "AgentSpec")]
struct AgentFile {
    name: String,
    pos: [f32; 2],
    #[serde(default, deserialize_with = "some")]
    yaw: Option<f32>,
    #[serde(default, deserialize_with = "some")]
    body: Option<Body>,
    #[serde(default, deserialize_with = "some")]
    sensors: Option<Sensors>,
    #[serde(default, deserialize_with = "some")]
    actions: Option<Vec<Action>>,
    #[serde(default, deserialize_with = "some")]
    policy: Option<Policy>,
    #[serde(default, deserialize_with = "some")]
    brain: Option<BrainSpec>,
}

impl ScenarioFile {
    /// The scenario with `agent_defaults` applied, and per agent the fields it took from them.
    pub(crate) fn resolve(self) -> (Scenario, Vec<Vec<&'static str>>) {
        /// The agent's own value, else the shared one (noting that), else the built-in default.
        fn pick<T: Clone>(
            own: Option<T>,
            shared: &Option<T>,
            field: &'static str,
            taken: &mut Vec<&'static str>,
            default: impl FnOnce() -> T,
        ) -> T {
            own.unwrap_or_else(|| match shared {
                Some(v) => {
                    taken.push(field);
                    v.clone()
                }
                None => default(),
            })
        }
        let d = &self.agent_defaults;
        let mut inherited = Vec::with_capacity(self.agents.len());
        let agents = self
            .agents
            .into_iter()
            .map(|a| {
                let mut t = Vec::new();
                let spec = AgentSpec {
                    name: a.name,
                    pos: a.pos,
                    yaw: pick(a.yaw, &d.yaw, "yaw", &mut t, f32::default),
                    body: pick(a.body, &d.body, "body", &mut t, Body::default),
                    sensors: pick(a.sensors, &d.sensors, "sensors", &mut t, Sensors::default),
                    actions: pick(a.actions, &d.actions, "actions", &mut t, default_actions),
                    policy: pick(a.policy, &d.policy, "policy", &mut t, Policy::default),
                    brain: pick(a.brain, &d.brain, "brain", &mut t, BrainSpec::default),
                };
                inherited.push(t);
                spec
            })
            .collect();
        let sc = Scenario {
            name: self.name,
            description: self.description,
            world: self.world,
            agents,
            run: self.run,
            expect: self.expect,
        };
        (sc, inherited)
    }
}

/// Length and stepping of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    /// Theta cycles (200 ms of simulated time each). Default 2000.
    pub theta_cycles: u32,
    /// Physics steps per theta cycle, 1..=200. Default 12 (60 Hz).
    pub physics_steps: u32,
    /// Seed of everything random: spawners, policies, brains. Default 0.
    pub seed: u64,
    /// Final fraction of the run that summaries and expectations average over. Default 0.1.
    pub final_window: f32,
    /// Brains also learn from the theta cycles in which a spawner moves its objects
    /// (`respawn_every`). Default false: the outcome of such a cycle is not a consequence of
    /// the frame and the action (objects jump to new spots), so, as at an episode boundary,
    /// no agent learns from it; its prediction is still scored.
    pub learn_respawns: bool,
}

impl Default for RunSpec {
    fn default() -> Self {
        Self {
            theta_cycles: 2000,
            physics_steps: 12,
            seed: 0,
            final_window: 0.1,
            learn_respawns: false,
        }
    }
}

/// A condition checked on the final window of a run, for every agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Expectation {
    /// `skill = 1 − Σ pred_error / Σ baseline_error` at least `min`.
    Skill {
        /// Threshold.
        min: f32,
    },
    /// Pearson correlation of prediction and outcome at least `min`.
    Correlation {
        /// Threshold.
        min: f32,
    },
    /// Mean squared prediction error at most `max`.
    PredError {
        /// Threshold.
        max: f32,
    },
}

impl Expectation {
    /// Short name for reports, e.g. `skill >= 0.3`.
    pub fn describe(&self) -> String {
        match self {
            Expectation::Skill { min } => format!("skill >= {min}"),
            Expectation::Correlation { min } => format!("correlation >= {min}"),
            Expectation::PredError { max } => format!("pred_error <= {max}"),
        }
    }
}
