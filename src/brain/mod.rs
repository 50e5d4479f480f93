//! The cortical learner: O'Reilly's temporal-derivative model in pure Rust (no Bevy, no Rapier).
//!
//! * [`neuron`]: AdEx spiking neurons with NMDA and GABA-B channels, in mV / nS / pF.
//! * [`inhib`]: FS-FFFB inhibition per layer and pool.
//! * [`kinase`]: calcium cascades and the kinase weight-change rules.
//! * [`layer`], [`path`], [`network`]: layers, pathways and the theta-cycle API.
//! * [`plasticity`]: the 25↔50 Hz slice protocol on one synapse.
//! * [`learner`]: the [`Learner`] trait every brain implements; [`backprop`]: the backprop
//!   baseline (an Elman network) to compare the cortex with.
//!
//! Parameters (serde structs with documented defaults) are kept apart from state, as in Axon.

pub mod backprop;
pub mod bench;
pub mod cortex;
pub mod decoder;
pub mod deep;
pub mod error;
pub mod framing;
pub mod inhib;
pub mod kinase;
pub mod layer;
pub mod learner;
pub mod math;
pub mod network;
pub mod neuron;
pub mod path;
pub mod plasticity;
pub mod simd;
pub mod tasks;

pub use error::{BrainError, Result};
pub use layer::{LayerKind, LayerSpec, Shape};
pub use learner::{Cue, Learner, LearnerObject};
pub use network::{Network, NetworkSpec, Phase, ThetaParams};
pub use path::{Gate, PathKind, PathSpec, Pattern};
