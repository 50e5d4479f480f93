//! The Jang et al. (2026) slice protocol on one synapse, run through the network's own neuron,
//! calcium and kinase code.
//!
//! A presynaptic and a postsynaptic neuron are made to spike (Poisson, seeded; each spike is
//! forced by a one-cycle somatic current pulse, as a patch pipette would) at one rate during the
//! minus phase and another during the plus phase of each theta cycle, for many back-to-back
//! cycles. Presynaptic spikes reach the postsynaptic cell through the synapse (delay, AMPA and
//! NMDA), the synapse learns with the hidden-layer kinase rule at the end of every cycle, and the
//! mean weight change per cycle is reported with its standard error.
//!
//! The receiver learning-rate factor (RLRate) is left out: it is a layer-relative gain that a
//! single neuron in a slice does not have, and it only scales the result.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{BrainError, Result, check_range};
use super::kinase::{SynCaBins, dwt_hidden, lwt_from, soft_bound, wt_from};
use super::math::mean_sem;
use super::neuron::{LaneIn, Lanes, NeuronParams, Shortcuts};

/// Settings of one protocol run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Protocol {
    /// Pre- and postsynaptic rate in the minus phase, Hz.
    pub minus_hz: f32,
    /// Rate in the plus phase, Hz.
    pub plus_hz: f32,
    /// Minus-phase length, cycles (ms). Default 100 (the experiment's halves).
    pub minus_cycles: usize,
    /// Plus-phase length, cycles. Default 100.
    pub plus_cycles: usize,
    /// Theta cycles measured. Default 2000.
    pub trials: usize,
    /// Theta cycles run first to bring the calcium to its steady state (not measured). Default 10.
    pub warmup: usize,
    /// RNG seed for the spike trains.
    pub seed: u64,
    /// Learning rate. Default 0.04 (Axon's base rate).
    pub lrate: f32,
    /// Synaptic conductance per presynaptic spike per unit weight (normalised). Default 0.05.
    pub syn_g: f32,
    /// Initial effective weight. Default 0.5.
    pub wt0: f32,
}

impl Default for Protocol {
    fn default() -> Self {
        Self {
            minus_hz: 25.0,
            plus_hz: 50.0,
            minus_cycles: 100,
            plus_cycles: 100,
            trials: 2000,
            warmup: 10,
            seed: 0,
            lrate: 0.04,
            syn_g: 0.05,
            wt0: 0.5,
        }
    }
}

/// Outcome of one protocol run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtocolResult {
    /// Minus-phase rate, Hz.
    pub minus_hz: f32,
    /// Plus-phase rate, Hz.
    pub plus_hz: f32,
    /// Mean change of the effective weight per theta cycle.
    pub dw: f64,
    /// Standard error of that mean.
    pub sem: f64,
    /// Postsynaptic rate actually reached in the minus phase, Hz (refractoriness drops a few).
    pub post_minus_hz: f64,
    /// Postsynaptic rate reached in the plus phase, Hz.
    pub post_plus_hz: f64,
    /// Baseline weight plus the summed changes of all cycles (what applying them would give,
    /// ignoring soft-bound saturation).
    pub final_wt: f32,
}

/// Current that forces a spike within one cycle from rest, pA.
const SPIKE_PULSE_PA: f32 = 28_100.0;

impl Protocol {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        check_range("minus_hz", self.minus_hz, 0.0, 500.0)?;
        check_range("plus_hz", self.plus_hz, 0.0, 500.0)?;
        check_range("lrate", self.lrate, 0.0, 10.0)?;
        check_range("syn_g", self.syn_g, 0.0, 10.0)?;
        check_range("wt0", self.wt0, 0.01, 1.99)?;
        if self.minus_cycles == 0 || self.plus_cycles == 0 || self.trials == 0 {
            return Err(BrainError::InvalidParam {
                field: "minus_cycles/plus_cycles/trials".into(),
                value: format!("{}/{}/{}", self.minus_cycles, self.plus_cycles, self.trials),
                reason: "must all be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Runs the protocol.
    pub fn run(&self) -> Result<ProtocolResult> {
        self.validate()?;
        let p = NeuronParams::default();
        let bin_cycles = 10;
        let bins = SynCaBins::fit(self.minus_cycles, self.plus_cycles, bin_cycles, &p.ca);
        let total = self.minus_cycles + self.plus_cycles;
        let nb = bins.len();
        // Different rate pairs get different (but fixed) spike trains from the same seed.
        let mix = (self.minus_hz.to_bits() as u64) << 32 | self.plus_hz.to_bits() as u64;
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ mix.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let swt = 0.5;
        // Each cycle's change is measured from the same baseline weight, as each slice recording
        // starts from its own baseline; the calcium state carries over from cycle to cycle.
        let lwt0 = lwt_from(self.wt0, swt);
        let wt = wt_from(swt, lwt0);
        let mut final_wt = wt;
        // Lane 0 is the presynaptic neuron, lane 1 the postsynaptic one.
        let k = p.consts();
        let mut cells = Lanes::rest(&p);
        let (pre, post) = (0, 1);
        let mut ring = [0.0f32; 3];
        let (mut sb, mut rb) = (vec![0.0f32; nb], vec![0.0f32; nb]);
        let mut dws = Vec::with_capacity(self.trials);
        let (mut post_m, mut post_p) = (0u64, 0u64);
        let mut t = 0usize;
        for trial in 0..self.warmup + self.trials {
            sb.fill(0.0);
            rb.fill(0.0);
            for c in 0..total {
                let plus = c >= self.minus_cycles;
                let hz = if plus { self.plus_hz } else { self.minus_hz };
                let pulse = |rng: &mut ChaCha8Rng| {
                    if rng.random::<f32>() < hz / 1000.0 {
                        SPIKE_PULSE_PA
                    } else {
                        0.0
                    }
                };
                let (ipre, ipost) = (pulse(&mut rng), pulse(&mut rng));
                let slot = t % ring.len();
                let ge_in = ring[slot];
                ring[slot] = 0.0;
                let mut inp = LaneIn::default();
                inp.inj.0[pre] = ipre;
                inp.inj.0[post] = ipost;
                inp.ge_raw.0[post] = ge_in;
                p.cycle(&k, &mut cells, &inp, plus, Shortcuts::default());
                if cells.spike.0[pre] > 0.0 {
                    // Arrives after the 2-cycle synaptic delay (3 cycles after the spike).
                    ring[(t + 3) % ring.len()] += self.syn_g * wt;
                }
                let b = c / bin_cycles;
                sb[b] += cells.ca_syn.0[pre] / bin_cycles as f32;
                rb[b] += cells.ca_syn.0[post] / bin_cycles as f32;
                if trial >= self.warmup && cells.spike.0[post] > 0.0 {
                    if plus {
                        post_p += 1;
                    } else {
                        post_m += 1;
                    }
                }
                t += 1;
            }
            let tr = bins.credit(&rb, &sb, cells.ca_syn.0[post], cells.ca_syn.0[pre]);
            let err = (cells.lca_p.0[post], cells.lca_d.0[post]);
            let dwt = soft_bound(dwt_hidden(tr, err.0, err.1), lwt0);
            let new_lwt = (lwt0 + self.lrate * dwt).clamp(0.0, 1.0);
            if trial >= self.warmup {
                dws.push((wt_from(swt, new_lwt) - wt) as f64);
            }
            final_wt += wt_from(swt, new_lwt) - wt;
        }
        let (dw, sem) = mean_sem(&dws);
        let n = self.trials as f64;
        Ok(ProtocolResult {
            minus_hz: self.minus_hz,
            plus_hz: self.plus_hz,
            dw,
            sem,
            post_minus_hz: post_m as f64 / (n * self.minus_cycles as f64 / 1000.0),
            post_plus_hz: post_p as f64 / (n * self.plus_cycles as f64 / 1000.0),
            final_wt,
        })
    }
}

/// The rate pairs of the standard table: flat, rising and falling.
pub const STANDARD_PAIRS: [(f32, f32); 6] = [
    (25.0, 25.0),
    (50.0, 50.0),
    (25.0, 50.0),
    (50.0, 25.0),
    (25.0, 100.0),
    (100.0, 25.0),
];

/// Runs `base` for every rate pair (in parallel), in the order given.
pub fn run_pairs(base: &Protocol, pairs: &[(f32, f32)]) -> Result<Vec<ProtocolResult>> {
    pairs
        .par_iter()
        .map(|&(m, p)| {
            Protocol {
                minus_hz: m,
                plus_hz: p,
                ..base.clone()
            }
            .run()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_result_and_bad_settings_rejected() {
        let p = Protocol {
            trials: 50,
            ..Default::default()
        };
        assert_eq!(p.run().unwrap(), p.run().unwrap());
        let bad = Protocol {
            minus_hz: f32::NAN,
            ..Default::default()
        };
        assert!(bad.run().is_err());
        let bad = Protocol {
            trials: 0,
            ..Default::default()
        };
        assert!(bad.run().is_err());
    }
}
