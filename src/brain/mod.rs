//! The cortical learner: O'Reilly's temporal-derivative model in pure Rust (no Bevy, no Rapier).
//!
//! * [`neuron`]: AdEx spiking neurons with NMDA and GABA-B channels, in mV / nS / pF.
//! * [`kinase`]: calcium cascades and the kinase weight-change rules.
//! * [`plasticity`]: the 25↔50 Hz slice protocol on one synapse.
//!
//! Parameters (serde structs with documented defaults) are kept apart from state, as in Axon.

pub mod error;
pub mod kinase;
pub mod math;
pub mod neuron;
pub mod plasticity;

pub use error::{BrainError, Result};
