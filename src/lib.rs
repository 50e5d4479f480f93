//! thetabox: embodied agents in a Rapier world whose brains learn by predicting their next
//! sensory frame, following O'Reilly's temporal-derivative model of the neocortex.
//!
//! The learner lives in [`brain`] and depends on nothing from Bevy, so it can be tested and
//! benchmarked on its own.

pub mod batch;
pub mod brain;
pub mod scenario;
pub mod sim;
#[cfg(feature = "viewer")]
pub mod viewer;
