//! Layers: shape and pools, kind (input, hidden, target, or one of the deep predictive kinds) and
//! the per-layer parameters.

use serde::{Deserialize, Serialize};

use super::error::{BrainError, Result, check_range};
use super::inhib::{InhibParams, InhibState};
use super::kinase::RlRateParams;
use super::neuron::NeuronParams;

/// Geometry of a layer: a grid of pools, each a grid of units. A 2D layer has one pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// Pools along y.
    pub pools_y: usize,
    /// Pools along x.
    pub pools_x: usize,
    /// Units per pool along y.
    pub units_y: usize,
    /// Units per pool along x.
    pub units_x: usize,
}

impl Shape {
    /// A single-pool `y × x` layer.
    pub const fn d2(y: usize, x: usize) -> Self {
        Self {
            pools_y: 1,
            pools_x: 1,
            units_y: y,
            units_x: x,
        }
    }

    /// A `py × px` grid of `uy × ux` pools.
    pub const fn d4(py: usize, px: usize, uy: usize, ux: usize) -> Self {
        Self {
            pools_y: py,
            pools_x: px,
            units_y: uy,
            units_x: ux,
        }
    }

    /// Number of pools.
    pub const fn pools(&self) -> usize {
        self.pools_y * self.pools_x
    }

    /// Units per pool.
    pub const fn pool_size(&self) -> usize {
        self.units_y * self.units_x
    }

    /// Total units.
    pub const fn len(&self) -> usize {
        self.pools() * self.pool_size()
    }

    /// True for an empty layer.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What role a layer plays in the theta cycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerKind {
    /// Clamped to its external input in both phases (sensory and action inputs).
    Input,
    /// Free-running hidden layer.
    Hidden,
    /// Free in the minus phase, clamped to its target in the plus phase; learns with the
    /// target rule.
    Target,
    /// Layer 2/3 of a deep circuit: a hidden layer that also computes the 5IB burst.
    Super,
    /// Layer-6 corticothalamic: holds the previous theta cycle's context.
    Ct,
    /// Pulvinar (TRC): predicted from CT in the minus phase, driven by `driver` in the plus phase.
    Pulvinar {
        /// Name of the driver layer (same shape).
        driver: String,
    },
}

impl LayerKind {
    /// True when the layer learns with the target (synaptic-calcium difference) rule.
    pub fn target_rule(&self) -> bool {
        matches!(self, Self::Target | Self::Pulvinar { .. })
    }
}

/// 5IB burst of Super layers (Axon `BurstParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BurstParams {
    /// Relative threshold between the layer's mean and max CaP. Default 0.1.
    pub thr_rel: f32,
    /// Absolute threshold on CaP. Default 0.1.
    pub thr_abs: f32,
}

impl Default for BurstParams {
    fn default() -> Self {
        Self {
            thr_rel: 0.1,
            thr_abs: 0.1,
        }
    }
}

/// CT context (Axon `CTParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CtParams {
    /// Gain on the context conductance. Default 1 (Axon's "Medium" preset uses 2).
    pub ge_gain: f32,
    /// Decay time constant of the context within a theta cycle, cycles; 0 = no decay. Default 50.
    pub decay_tau: f32,
}

impl Default for CtParams {
    fn default() -> Self {
        Self {
            ge_gain: 1.0,
            decay_tau: 50.0,
        }
    }
}

/// Pulvinar driving (Axon `PulvinarParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PulvParams {
    /// Excitatory conductance per unit of driver activity. Default 0.1 (deep_fsa uses 0.2).
    pub drive_scale: f32,
    /// Driver activity at which the pulvinar ignores its other inputs entirely. Default 0.6.
    pub full_drive_act: f32,
    /// How far the state decays toward rest between the phases, in [0, 1]. Default 1 (Axon:
    /// a full decay, so plus-phase activity reflects the driver alone).
    pub phase_decay: f32,
    /// For an input driver: drive the plus phase with the driver's spikes, each adding
    /// `drive_scale` of excitatory conductance that then decays like synaptic input, and shut
    /// out the other inputs; the driver layer then shows the outcome in the plus phase
    /// (`Network::apply_outcome` sets it). Default false: a steady conductance in proportion
    /// to the driver's value, as Axon does. A steady conductance and a spike train of the same
    /// mean make differently shaped rate curves (the steady one is silent up to about 0.3 of a
    /// pixel's range, then rises to 0.97; the spikes that carry the minus phase's prediction
    /// fire from about 0.2 and flatten near 0.7), and the frame-space readout is calibrated on
    /// the plus phase: copying a novel pattern through a one-to-one pathway alone erred by
    /// 0.0153 with the steady drive and by 0.0041 with spikes.
    pub drive_spikes: bool,
    /// With `drive_spikes`: how far the driving input layer decays toward rest as the plus
    /// phase starts, in [0, 1]. At 0 its units carry the previous frame's firing into the
    /// plus phase (a unit changes rate only after finishing its current interval), so the
    /// outcome the pulvinar hears, and its readout is calibrated on, mixes in the frame before;
    /// at 1 they start afresh from the outcome. Default 0.
    pub driver_decay: f32,
    /// How the layer's synapses learn. At 0, Axon's target rule: each synapse's plus-minus
    /// difference of sender × receiver spike calcium (`syCaP − syCaD`, fitted over the whole
    /// theta cycle). Above 0, the receiver's activity later minus earlier (ActP − ActM) times
    /// this gain, credited to each sender's minus-phase spike calcium: the activity that made
    /// the prediction. Default 0.
    ///
    /// The synaptic rule credits the plus phase to what the sender does then, and so assumes
    /// senders hold still across the phases (as CT does); a pathway from an input layer that
    /// shows the outcome in the plus phase would learn the outcome's own correlations. And
    /// the plus phase starts from rest, so spike calcium reached the minus phase's level with
    /// fewer spikes than the readout's rate: predictions settled short of the outcome (a
    /// still scene: 0.72 where the outcome drove 0.75).
    pub act_error: f32,
}

impl Default for PulvParams {
    fn default() -> Self {
        Self {
            drive_scale: 0.1,
            full_drive_act: 0.6,
            phase_decay: 1.0,
            drive_spikes: false,
            driver_decay: 0.0,
            act_error: 0.0,
        }
    }
}

/// Everything that defines one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Unique name.
    pub name: String,
    /// Role.
    pub kind: LayerKind,
    /// Geometry.
    pub shape: Shape,
    /// Neuron parameters.
    #[serde(default)]
    pub neuron: NeuronParams,
    /// Whole-layer inhibition.
    #[serde(default)]
    pub inhib: InhibParams,
    /// Per-pool inhibition (used when the layer has more than one pool; a unit gets the larger of
    /// its pool's and its layer's). Default: same as the defaults of [`InhibParams`].
    #[serde(default)]
    pub pool_inhib: InhibParams,
    /// Receiver learning-rate factor.
    #[serde(default)]
    pub rl_rate: RlRateParams,
    /// Expected fraction of active units; scales incoming pathways. Default 0.1.
    #[serde(default = "default_nominal")]
    pub act_nominal: f32,
    /// Synaptic scaling rate: at each slow adaptation, incoming weights of a unit whose average
    /// activity is off its target (relative to its pool) move by this fraction of the
    /// mismatch. Default 0.005 (Axon's SynScaleRate).
    #[serde(default = "default_syn_scale")]
    pub syn_scale_rate: f32,
    /// Burst (Super layers).
    #[serde(default)]
    pub burst: BurstParams,
    /// Context (CT layers).
    #[serde(default)]
    pub ct: CtParams,
    /// Driving (Pulvinar layers).
    #[serde(default)]
    pub pulv: PulvParams,
}

fn default_syn_scale() -> f32 {
    0.005
}

fn default_nominal() -> f32 {
    0.1
}

impl LayerSpec {
    /// A layer with default parameters.
    pub fn new(name: &str, kind: LayerKind, shape: Shape) -> Self {
        let mut rl_rate = RlRateParams::default();
        if matches!(kind, LayerKind::Pulvinar { .. }) {
            rl_rate.sigmoid_min = 1.0;
        }
        Self {
            name: name.to_string(),
            kind,
            shape,
            neuron: NeuronParams::default(),
            inhib: InhibParams::default(),
            pool_inhib: InhibParams::default(),
            rl_rate,
            act_nominal: default_nominal(),
            syn_scale_rate: default_syn_scale(),
            burst: BurstParams::default(),
            ct: CtParams::default(),
            pulv: PulvParams::default(),
        }
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        let at = format!("layers.{}", self.name);
        if self.name.is_empty() {
            return Err(BrainError::InvalidParam {
                field: "layers[].name".into(),
                value: "\"\"".into(),
                reason: "a layer needs a name".into(),
            });
        }
        if self.shape.is_empty() || self.shape.len() > 10_000_000 {
            return Err(BrainError::InvalidParam {
                field: format!("{at}.shape"),
                value: format!("{:?}", self.shape),
                reason: "every dimension must be ≥ 1 and the layer ≤ 10 M units".into(),
            });
        }
        self.neuron.validate(&format!("{at}.neuron"))?;
        self.inhib.validate(&format!("{at}.inhib"))?;
        self.pool_inhib.validate(&format!("{at}.pool_inhib"))?;
        self.rl_rate.validate(&format!("{at}.rl_rate"))?;
        check_range(&format!("{at}.act_nominal"), self.act_nominal, 0.001, 1.0)?;
        check_range(
            &format!("{at}.syn_scale_rate"),
            self.syn_scale_rate,
            0.0,
            1.0,
        )?;
        check_range(&format!("{at}.burst.thr_rel"), self.burst.thr_rel, 0.0, 1.0)?;
        check_range(
            &format!("{at}.burst.thr_abs"),
            self.burst.thr_abs,
            0.0,
            10.0,
        )?;
        check_range(&format!("{at}.ct.ge_gain"), self.ct.ge_gain, 0.0, 100.0)?;
        check_range(&format!("{at}.ct.decay_tau"), self.ct.decay_tau, 0.0, 1e4)?;
        if self.ct.decay_tau > 0.0 && self.ct.decay_tau < 1.0 {
            return Err(BrainError::InvalidParam {
                field: format!("{at}.ct.decay_tau"),
                value: format!("{}", self.ct.decay_tau),
                reason: "must be 0 (no decay) or ≥ 1".into(),
            });
        }
        check_range(
            &format!("{at}.pulv.drive_scale"),
            self.pulv.drive_scale,
            0.0,
            100.0,
        )?;
        check_range(
            &format!("{at}.pulv.full_drive_act"),
            self.pulv.full_drive_act,
            0.01,
            10.0,
        )?;
        check_range(
            &format!("{at}.pulv.phase_decay"),
            self.pulv.phase_decay,
            0.0,
            1.0,
        )?;
        check_range(
            &format!("{at}.pulv.driver_decay"),
            self.pulv.driver_decay,
            0.0,
            1.0,
        )?;
        check_range(
            &format!("{at}.pulv.act_error"),
            self.pulv.act_error,
            0.0,
            100.0,
        )
    }

    /// Gain of the activity-error rule this layer learns with (`PulvParams::act_error`), 0
    /// when it learns otherwise (the rule applies to target-rule layers only).
    pub fn act_error_gain(&self) -> f32 {
        if self.kind.target_rule() {
            self.pulv.act_error
        } else {
            0.0
        }
    }
}

/// A layer inside a built network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Layer {
    /// Its definition.
    pub spec: LayerSpec,
    /// Index of its first neuron in the network.
    pub start: usize,
    /// Whole-layer inhibition state.
    pub inhib: InhibState,
    /// Per-pool inhibition state (empty for single-pool layers).
    pub pools: Vec<InhibState>,
    /// Index of the driver layer (pulvinar layers).
    pub driver: Option<usize>,
    /// Whether the layer is clamped to `ext` right now.
    pub clamped: bool,
    /// Spikes on the previous cycle, per pool (one entry for single-pool layers).
    pub(crate) pool_spikes: Vec<u32>,
}

impl Layer {
    /// Number of units.
    pub fn len(&self) -> usize {
        self.spec.shape.len()
    }

    /// True for an empty layer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Global neuron index range.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.start + self.len()
    }

    /// Name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }
}
