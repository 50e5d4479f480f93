//! FS-FFFB inhibition (Axon `fsfffb`): fast feedforward + feedback inhibition from fast-spiking
//! interneurons, and slow feedback from SST interneurons, per layer and per pool.

use serde::{Deserialize, Serialize};

use super::error::{Result, check_range};

/// Parameters of FS-FFFB inhibition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InhibParams {
    /// Inhibition on at all. Default true.
    pub on: bool,
    /// Overall gain. Default 1.1.
    pub gi: f32,
    /// Weight of feedback (spikes) relative to feedforward (input) drive. Default 1.
    pub fb: f32,
    /// Fast-spiking threshold below which there is no fast inhibition. Default 0.1.
    pub fs0: f32,
    /// Fast-spiking integration time constant, cycles. Default 6.
    pub fs_tau: f32,
    /// Gain of slow (SST) inhibition. Default 30.
    pub ss: f32,
    /// Slow facilitation time constant, cycles. Default 20.
    pub ssf_tau: f32,
    /// Slow inhibition time constant, cycles. Default 50.
    pub ssi_tau: f32,
    /// Minimum external drive for a clamped pool to be inhibited from its input alone. Default 0.05.
    pub clamp_ext_min: f32,
}

impl Default for InhibParams {
    fn default() -> Self {
        Self {
            on: true,
            gi: 1.1,
            fb: 1.0,
            fs0: 0.1,
            fs_tau: 6.0,
            ss: 30.0,
            ssf_tau: 20.0,
            ssi_tau: 50.0,
            clamp_ext_min: 0.05,
        }
    }
}

impl InhibParams {
    /// Checks every field.
    pub fn validate(&self, at: &str) -> Result<()> {
        check_range(&format!("{at}.gi"), self.gi, 0.0, 100.0)?;
        check_range(&format!("{at}.fb"), self.fb, 0.0, 100.0)?;
        check_range(&format!("{at}.fs0"), self.fs0, 0.0, 10.0)?;
        check_range(&format!("{at}.fs_tau"), self.fs_tau, 1.0, 1e4)?;
        check_range(&format!("{at}.ss"), self.ss, 0.0, 1e3)?;
        check_range(&format!("{at}.ssf_tau"), self.ssf_tau, 1.0, 1e4)?;
        check_range(&format!("{at}.ssi_tau"), self.ssi_tau, 1.0, 1e4)?;
        check_range(
            &format!("{at}.clamp_ext_min"),
            self.clamp_ext_min,
            0.0,
            10.0,
        )
    }
}

/// Running state of one inhibitory pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InhibState {
    /// Fast-spiking interneuron integration.
    pub fsi: f32,
    /// Slow inhibition.
    pub ssi: f32,
    /// Slow facilitation.
    pub ssf: f32,
    /// Fast component of the last Gi.
    pub fs_gi: f32,
    /// Slow component of the last Gi.
    pub ss_gi: f32,
    /// Total Gi of the last cycle.
    pub gi: f32,
}

impl InhibState {
    /// Advances one cycle given the pool's mean excitatory input `ff`, its fraction of spiking
    /// units on the previous cycle `fb`, and the mean clamped drive `ge_ext` (0 when not clamped).
    #[inline]
    pub fn update(&mut self, p: &InhibParams, ff: f32, fb: f32, ge_ext: f32, clamped: bool) {
        if !p.on {
            *self = Self::default();
            return;
        }
        self.fsi += (ff + p.fb * fb) - self.fsi / p.fs_tau;
        self.fs_gi = if clamped && ge_ext > p.clamp_ext_min {
            p.gi * ge_ext
        } else {
            p.gi * ((self.fsi - p.fs0).max(0.0) + ge_ext)
        };
        self.ssi += (self.ssf * fb - self.ssi) / p.ssi_tau;
        self.ssf += fb * (1.0 - self.ssf) - self.ssf / p.ssf_tau;
        self.ss_gi = p.gi * p.ss * self.ssi;
        self.gi = self.fs_gi + self.ss_gi;
    }

    /// Decays the state toward zero by `frac` (start of a theta cycle).
    pub fn decay(&mut self, frac: f32) {
        self.fsi -= frac * self.fsi;
        self.ssi -= frac * self.ssi;
        self.ssf -= frac * self.ssf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_input_and_spikes_give_more_inhibition() {
        let p = InhibParams::default();
        let (mut a, mut b) = (InhibState::default(), InhibState::default());
        for _ in 0..50 {
            a.update(&p, 0.02, 0.01, 0.0, false);
            b.update(&p, 0.05, 0.05, 0.0, false);
        }
        assert!(b.gi > a.gi && a.gi > 0.0, "{} {}", a.gi, b.gi);
        let mut c = InhibState::default();
        c.update(&p, 0.0, 0.0, 0.5, true);
        assert!((c.fs_gi - p.gi * 0.5).abs() < 1e-6);
        let off = InhibParams { on: false, ..p };
        c.update(&off, 1.0, 1.0, 0.0, false);
        assert_eq!(c.gi, 0.0);
    }
}
