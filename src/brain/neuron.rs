//! AdEx-style spiking neurons in biological units (mV, nS, pF), 1 ms cycles.
//!
//! State is stored as structure-of-arrays ([`Neurons`]) so that the per-cycle loop over a layer is
//! a straight run over contiguous `f32` slices. The single-neuron integration step is
//! [`NeuronParams::vm_step`]; [`NeuronParams::cycle`] runs one full cycle (channels, membrane,
//! spike, calcium) for one neuron and is what the layers call in their loops.

use serde::{Deserialize, Serialize};

use super::error::{Result, check_pos, check_range};
use super::kinase::{CaParams, LearnCaParams};
use super::math::fast_exp;

/// Spiking and refractory parameters (Axon `SpikeParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpikeParams {
    /// AdEx exponential threshold V_T, mV. Default −50.
    pub thr: f32,
    /// AdEx slope Δ_T, mV. Default 2.
    pub exp_slope: f32,
    /// A spike is emitted when Vm reaches this, mV. Default −10.
    pub exp_thr: f32,
    /// Reset potential, mV. Default −70.
    pub vm_r: f32,
    /// Refractory period, cycles. Default 3.
    pub tr: u32,
    /// Time constant of the decay toward `vm_r` while refractory, ms. Default 1.6667.
    pub r_tau: f32,
    /// Firing rate at which Act reaches 1, Hz. Default 180.
    pub max_hz: f32,
    /// Time constant of the running-average inter-spike interval, spikes. Default 5.
    pub isi_tau: f32,
}

impl Default for SpikeParams {
    fn default() -> Self {
        Self {
            thr: -50.0,
            exp_slope: 2.0,
            exp_thr: -10.0,
            vm_r: -70.0,
            tr: 3,
            r_tau: 1.6667,
            max_hz: 180.0,
            isi_tau: 5.0,
        }
    }
}

/// Reversal potentials or maximal conductances for the four currents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chans {
    /// Excitatory (AMPA/NMDA).
    pub e: f32,
    /// Leak.
    pub l: f32,
    /// Inhibitory (GABA-A).
    pub i: f32,
    /// Potassium (GABA-B/GIRK).
    pub k: f32,
}

/// Dendritic compartment parameters (Axon `DendParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DendParams {
    /// Fraction of the somatic exponential (spike) current that reaches the dendrite. Default 0.2.
    pub g_exp: f32,
    /// Extra dendritic leak while the soma is refractory, ×GbarL. Default 3.
    pub g_r: f32,
    /// Multiplier of the pool's slow (SST) inhibition added to the dendrite. Default 2.
    pub ss_gi: f32,
}

impl Default for DendParams {
    fn default() -> Self {
        Self {
            g_exp: 0.2,
            g_r: 3.0,
            ss_gi: 2.0,
        }
    }
}

/// NMDA channel (Axon `NMDAParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NmdaParams {
    /// Conductance multiplier (normalised units). Default 0.006.
    pub ge: f32,
    /// Decay time constant, ms. Default 100.
    pub tau: f32,
    /// Extracellular magnesium, mM. Default 1.4.
    pub mg_c: f32,
}

impl Default for NmdaParams {
    fn default() -> Self {
        Self {
            ge: 0.006,
            tau: 100.0,
            mg_c: 1.4,
        }
    }
}

/// GABA-B / GIRK channel (Axon `GABABParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GababParams {
    /// Conductance multiplier (normalised units). Default 0.015.
    pub gk: f32,
    /// Rise time constant, ms. Default 45.
    pub rise: f32,
    /// Decay time constant, ms. Default 50.
    pub decay: f32,
    /// Baseline open fraction. Default 0.2.
    pub gbase: f32,
}

impl Default for GababParams {
    fn default() -> Self {
        Self {
            gk: 0.015,
            rise: 45.0,
            decay: 50.0,
            gbase: 0.2,
        }
    }
}

/// How much state decays toward rest at the start of each theta cycle (Axon `DecayParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecayParams {
    /// Fraction of Vm, Act and fast conductances reset toward rest. Default 0.2; deep layers use 0.
    pub act: f32,
    /// Fraction of the slow NMDA/GABA-B state reset. Default 0.6; deep layers use 0.
    pub glong: f32,
}

impl Default for DecayParams {
    fn default() -> Self {
        Self {
            act: 0.2,
            glong: 0.6,
        }
    }
}

/// All parameters of one neuron type (one per layer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuronParams {
    /// Spiking and refractoriness.
    pub spike: SpikeParams,
    /// Soma capacitance, pF. Default 281.
    pub vm_c: f32,
    /// Dendrite capacitance, pF. Default 500.
    pub vm_dend_c: f32,
    /// AMPA conductance decay, ms. Default 5.
    pub ge_tau: f32,
    /// GABA-A conductance decay, ms. Default 7.
    pub gi_tau: f32,
    /// Time constant of ActInt (the phase-average activity used for statistics), cycles. Default 40.
    pub int_tau: f32,
    /// Maximal conductances, nS. Default E 100, L 20, I 100, K 100.
    pub gbar: Chans,
    /// Reversal potentials, mV. Default E 0, L −70, I −90, K −90.
    pub erev: Chans,
    /// Dendrite.
    pub dend: DendParams,
    /// NMDA channel.
    pub nmda: NmdaParams,
    /// GABA-B channel.
    pub gabab: GababParams,
    /// Trial-start decay.
    pub decay: DecayParams,
    /// Excitatory conductance per unit of external input on clamped (input/target) units. Default 0.8.
    pub clamp_ge: f32,
    /// Spike-driven calcium cascade (CaM → CaP → CaD) and the CaSyn trace.
    pub ca: CaParams,
    /// NMDA + VGCC learning calcium.
    pub learn_ca: LearnCaParams,
}

impl Default for NeuronParams {
    fn default() -> Self {
        Self {
            spike: SpikeParams::default(),
            vm_c: 281.0,
            vm_dend_c: 500.0,
            ge_tau: 5.0,
            gi_tau: 7.0,
            int_tau: 40.0,
            gbar: Chans {
                e: 100.0,
                l: 20.0,
                i: 100.0,
                k: 100.0,
            },
            erev: Chans {
                e: 0.0,
                l: -70.0,
                i: -90.0,
                k: -90.0,
            },
            dend: DendParams::default(),
            nmda: NmdaParams::default(),
            gabab: GababParams::default(),
            decay: DecayParams::default(),
            clamp_ge: 0.8,
            ca: CaParams::default(),
            learn_ca: LearnCaParams::default(),
        }
    }
}

/// Membrane potential range, mV.
const VM_MIN: f32 = -100.0;
const VM_MAX: f32 = 0.0;

/// One neuron's state, by value: what [`NeuronParams::cycle`] reads and writes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NeuronScalar {
    /// Somatic membrane potential, mV.
    pub vm: f32,
    /// Dendritic membrane potential, mV.
    pub vm_dend: f32,
    /// Cycles since the last spike; −1 before the first spike.
    pub isi: f32,
    /// Running average inter-spike interval; −1 until two spikes were seen.
    pub isi_avg: f32,
    /// 1 on a spiking cycle, else 0.
    pub spike: f32,
    /// Rate-code activity in [0, 1] (statistics only).
    pub act: f32,
    /// Net current of the last integration step, pA (diagnostic).
    pub inet: f32,
    /// AMPA conductance (normalised, ×gbar.e nS).
    pub ge_syn: f32,
    /// GABA-A conductance from synapses (normalised).
    pub gi_syn: f32,
    /// Total excitatory conductance used for Vm (normalised).
    pub ge: f32,
    /// Total inhibitory conductance used for Vm (normalised).
    pub gi: f32,
    /// NMDA synaptic activation.
    pub gnmda_syn: f32,
    /// GABA-B X state.
    pub gabab_x: f32,
    /// GABA-B M state.
    pub gabab_m: f32,
    /// Spike calcium cascade.
    pub ca_m: f32,
    /// Fast (CaMKII-like) spike calcium.
    pub ca_p: f32,
    /// Slow (DAPK1-like) spike calcium.
    pub ca_d: f32,
    /// Synaptic-credit calcium trace.
    pub ca_syn: f32,
    /// NMDA learning drive.
    pub gnmda_lrn: f32,
    /// VGCC calcium integrator.
    pub vgcc_ca_int: f32,
    /// Learning calcium cascade M.
    pub lca_m: f32,
    /// Learning calcium P (LTP side).
    pub lca_p: f32,
    /// Learning calcium D (LTD side).
    pub lca_d: f32,
    /// Phase-integrated activity.
    pub act_int: f32,
}

impl NeuronScalar {
    /// A neuron at rest that has never spiked.
    pub fn rest(p: &NeuronParams) -> Self {
        Self {
            vm: p.erev.l,
            vm_dend: p.erev.l,
            isi: -1.0,
            isi_avg: -1.0,
            ..Default::default()
        }
    }
}

/// Inputs to one neuron for one cycle.
#[derive(Clone, Copy, Debug, Default)]
pub struct CycleIn {
    /// Excitatory input arriving this cycle (normalised).
    pub ge_raw: f32,
    /// Inhibitory synaptic input arriving this cycle (normalised).
    pub gi_raw: f32,
    /// Extra steady excitatory conductance (CT context), added to Ge without integration.
    pub ge_extra: f32,
    /// Pool (FS-FFFB) inhibition.
    pub pool_gi: f32,
    /// Pool slow inhibition, for the dendrite.
    pub ss_gi: f32,
    /// Clamped units: `Some(ge)` replaces the synaptic conductance.
    pub clamp: Option<f32>,
    /// Current injected into the soma, pA (the plasticity protocol's patch-clamp drive).
    pub inj: f32,
}

#[inline(always)]
fn mg_g(v: f32, mg_c: f32) -> f32 {
    // Jahr & Stevens magnesium block; zero drive at or above 0 mV.
    if v >= 0.0 {
        0.0
    } else {
        -v / (1.0 + (mg_c / 3.57) * fast_exp(-0.062 * v))
    }
}

#[inline(always)]
pub(crate) fn ca_from_v(v: f32) -> f32 {
    // GHK-style driving force; the limit at 0 mV is 1/0.0756.
    if v.abs() < 1e-3 {
        1.0 / 0.0756
    } else {
        -v / (1.0 - fast_exp(0.0756 * v))
    }
}

#[inline(always)]
fn gabab_g_from_v(v: f32) -> f32 {
    (v + 90.0) / (1.0 + fast_exp(0.1 * (v + 100.0)))
}

#[inline(always)]
fn gabab_g_from_s(s: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-(10.0 * s - 7.1) / 1.4))
}

impl NeuronParams {
    /// Checks every field; `at` is the dotted path used in error messages.
    pub fn validate(&self, at: &str) -> Result<()> {
        let s = &self.spike;
        check_range(&format!("{at}.spike.thr"), s.thr, -100.0, 0.0)?;
        check_pos(&format!("{at}.spike.exp_slope"), s.exp_slope)?;
        check_range(&format!("{at}.spike.exp_thr"), s.exp_thr, s.thr, 0.0)?;
        check_range(&format!("{at}.spike.vm_r"), s.vm_r, -100.0, 0.0)?;
        check_range(&format!("{at}.spike.tr"), s.tr as f32, 1.0, 50.0)?;
        check_pos(&format!("{at}.spike.r_tau"), s.r_tau)?;
        check_pos(&format!("{at}.spike.max_hz"), s.max_hz)?;
        check_range(&format!("{at}.spike.isi_tau"), s.isi_tau, 1.0, 1e6)?;
        check_range(&format!("{at}.vm_c"), self.vm_c, 1.0, 1e6)?;
        check_range(&format!("{at}.vm_dend_c"), self.vm_dend_c, 1.0, 1e6)?;
        check_range(&format!("{at}.ge_tau"), self.ge_tau, 1.0, 1e6)?;
        check_range(&format!("{at}.gi_tau"), self.gi_tau, 1.0, 1e6)?;
        check_range(&format!("{at}.int_tau"), self.int_tau, 1.0, 1e6)?;
        for (n, v) in [
            ("e", self.gbar.e),
            ("l", self.gbar.l),
            ("i", self.gbar.i),
            ("k", self.gbar.k),
        ] {
            check_range(&format!("{at}.gbar.{n}"), v, 0.0, 1e4)?;
        }
        for (n, v) in [
            ("e", self.erev.e),
            ("l", self.erev.l),
            ("i", self.erev.i),
            ("k", self.erev.k),
        ] {
            check_range(&format!("{at}.erev.{n}"), v, -100.0, 50.0)?;
        }
        check_range(&format!("{at}.dend.g_exp"), self.dend.g_exp, 0.0, 1.0)?;
        check_range(&format!("{at}.dend.g_r"), self.dend.g_r, 0.0, 100.0)?;
        check_range(&format!("{at}.dend.ss_gi"), self.dend.ss_gi, 0.0, 100.0)?;
        check_range(&format!("{at}.nmda.ge"), self.nmda.ge, 0.0, 1.0)?;
        check_range(&format!("{at}.nmda.tau"), self.nmda.tau, 1.0, 1e6)?;
        check_range(&format!("{at}.nmda.mg_c"), self.nmda.mg_c, 0.0, 100.0)?;
        check_range(&format!("{at}.gabab.gk"), self.gabab.gk, 0.0, 1.0)?;
        check_range(&format!("{at}.gabab.rise"), self.gabab.rise, 1.0, 1e6)?;
        check_range(&format!("{at}.gabab.decay"), self.gabab.decay, 1.0, 1e6)?;
        if self.gabab.decay == self.gabab.rise {
            return Err(super::BrainError::InvalidParam {
                field: format!("{at}.gabab.decay"),
                value: format!("{}", self.gabab.decay),
                reason: "must differ from gabab.rise".into(),
            });
        }
        check_range(&format!("{at}.gabab.gbase"), self.gabab.gbase, 0.0, 10.0)?;
        check_range(&format!("{at}.decay.act"), self.decay.act, 0.0, 1.0)?;
        check_range(&format!("{at}.decay.glong"), self.decay.glong, 0.0, 1.0)?;
        check_range(&format!("{at}.clamp_ge"), self.clamp_ge, 0.0, 100.0)?;
        self.ca.validate(&format!("{at}.ca"))?;
        self.learn_ca.validate(&format!("{at}.learn_ca"))?;
        Ok(())
    }

    /// The GABA-B rise/decay normalisation factor, so that the M state peaks near X.
    pub fn gabab_tau_fact(&self) -> f32 {
        let (r, d) = (self.gabab.rise, self.gabab.decay);
        (d / r).powf(r / (d - r))
    }

    /// One integration step of the soma: returns the new Vm and the net current (pA).
    ///
    /// `ge`, `gi`, `gk` are normalised conductances (multiplied by `gbar` here). While refractory
    /// (`0 <= isi < tr`) Vm relaxes toward `vm_r` and lands on it exactly at the last refractory
    /// cycle; otherwise it takes two half-steps of the conductance equation and then adds the AdEx
    /// exponential current evaluated at the step's mean Vm. Both the conductance current and the
    /// exponential current are clipped at ±100·VmC, which bounds a step to 100 mV. `inj` is an
    /// injected current (pA) added to the conductance current.
    #[inline(always)]
    pub fn vm_step(
        &self,
        vm: f32,
        isi: f32,
        ge: f32,
        gi: f32,
        gk: f32,
        inj: f32,
    ) -> (f32, f32, f32) {
        let s = &self.spike;
        let dt = 1.0 / self.vm_c;
        let lim = 100.0 * self.vm_c;
        let tr = s.tr as f32;
        if isi >= 0.0 && isi < tr {
            let dv = if isi >= tr - 1.0 {
                s.vm_r - vm
            } else {
                (1.0 / s.r_tau) * (s.vm_r - vm)
            };
            return (vm + dv, dv / dt, 0.0);
        }
        let (ge, gi, gk) = (ge * self.gbar.e, gi * self.gbar.i, gk * self.gbar.k);
        let gl = self.gbar.l;
        let inet_at = |v: f32| {
            (ge * (self.erev.e - v)
                + gl * (self.erev.l - v)
                + gi * (self.erev.i - v)
                + gk * (self.erev.k - v)
                + inj)
                .clamp(-lim, lim)
        };
        let mut v = vm;
        let mut inet = 0.0;
        for _ in 0..2 {
            inet = inet_at(v);
            v = (v + 0.5 * dt * inet).clamp(VM_MIN, VM_MAX);
        }
        let exp_i =
            (gl * s.exp_slope * fast_exp((0.5 * (v + vm) - s.thr) / s.exp_slope)).clamp(-lim, lim);
        v = (v + dt * exp_i).clamp(VM_MIN, VM_MAX);
        (v, inet + exp_i, exp_i)
    }

    /// The same integration for the dendrite, which never spikes and is not reset: it gets the
    /// extra refractory leak, the slow pool inhibition and a fraction of the spike current.
    #[inline(always)]
    fn vm_dend_step(&self, vd: f32, refr: bool, ge: f32, gi: f32, gk: f32, exp_i: f32) -> f32 {
        let dt = 1.0 / self.vm_dend_c;
        let lim = 100.0 * self.vm_dend_c;
        let gl = if refr {
            self.gbar.l * (1.0 + self.dend.g_r)
        } else {
            self.gbar.l
        };
        let (ge, gi, gk) = (ge * self.gbar.e, gi * self.gbar.i, gk * self.gbar.k);
        let mut v = vd;
        for _ in 0..2 {
            let inet = (ge * (self.erev.e - v)
                + gl * (self.erev.l - v)
                + gi * (self.erev.i - v)
                + gk * (self.erev.k - v))
                .clamp(-lim, lim);
            v = (v + 0.5 * dt * inet).clamp(VM_MIN, VM_MAX);
        }
        (v + dt * self.dend.g_exp * exp_i).clamp(VM_MIN, VM_MAX)
    }

    /// Rate-code activity implied by an inter-spike interval of `isi` cycles.
    #[inline(always)]
    fn rate_from_isi(&self, isi: f32) -> f32 {
        if isi <= 0.0 {
            1.0
        } else {
            (1000.0 / (self.spike.max_hz * isi)).min(1.0)
        }
    }

    /// Spike detection, ISI bookkeeping and the rate-code activity after the Vm update.
    #[inline(always)]
    pub fn spike_from_vm(&self, n: &mut NeuronScalar) {
        let spiked = n.vm >= self.spike.exp_thr;
        // Interval that sets the rate: the running average, or the silence since the last
        // spike once that is longer (a known average only; a fresh average of 0 means "fast").
        let isi_eff = if n.isi_avg >= 0.0 {
            if n.isi_avg > 0.0 && n.isi > n.isi_avg {
                n.isi
            } else {
                n.isi_avg
            }
        } else if n.isi >= 0.0 {
            n.isi.max(1.0)
        } else {
            -1.0
        };
        if spiked {
            if n.isi > 0.0 {
                if n.isi_avg < 0.0 {
                    n.isi_avg = n.isi;
                } else {
                    n.isi_avg += (n.isi - n.isi_avg) / self.spike.isi_tau;
                }
            }
            n.isi = 0.0;
            n.spike = 1.0;
        } else {
            n.spike = 0.0;
            if n.isi >= 0.0 {
                n.isi += 1.0;
            }
        }
        let new_act = if isi_eff < 0.0 {
            0.0
        } else {
            self.rate_from_isi(isi_eff)
        };
        n.act += (100.0 / self.vm_c) * (new_act - n.act);
    }

    /// One full 1 ms cycle of one neuron: channels, soma and dendrite, spike, activity, calcium.
    #[inline(always)]
    pub fn cycle(&self, n: &mut NeuronScalar, inp: &CycleIn, plus: bool) {
        let ge_raw = match inp.clamp {
            Some(g) => {
                n.ge_syn = g;
                g
            }
            None => {
                n.ge_syn += inp.ge_raw - n.ge_syn / self.ge_tau;
                inp.ge_raw
            }
        };
        n.gi_syn += inp.gi_raw - n.gi_syn / self.gi_tau;
        n.gnmda_syn += ge_raw - n.gnmda_syn / self.nmda.tau;
        let mg = mg_g(n.vm_dend, self.nmda.mg_c);
        let gnmda = self.nmda.ge * mg * n.gnmda_syn;
        let gi = inp.pool_gi + n.gi_syn;
        n.gabab_x += gabab_g_from_s(gi) - n.gabab_x / self.gabab.decay;
        n.gabab_m += (self.gabab_tau_fact() * n.gabab_x - n.gabab_m) / self.gabab.rise;
        let gk = self.gabab.gk * gabab_g_from_v(n.vm_dend) * (n.gabab_m + self.gabab.gbase);
        let ge = n.ge_syn + inp.ge_extra + gnmda;
        n.ge = ge;
        n.gi = gi;
        let refr = n.isi >= 0.0 && n.isi < self.spike.tr as f32;
        let (vm, inet, exp_i) = self.vm_step(n.vm, n.isi, ge, gi, gk, inp.inj);
        n.vm = vm;
        n.inet = inet;
        n.vm_dend = self.vm_dend_step(
            n.vm_dend,
            refr,
            ge,
            gi + self.dend.ss_gi * inp.ss_gi,
            gk,
            exp_i,
        );
        self.spike_from_vm(n);
        self.ca.update(n);
        let nmda_ca = if self.learn_ca.on {
            n.gnmda_lrn += ge_raw - n.gnmda_lrn / self.nmda.tau;
            self.nmda.ge * mg * n.gnmda_lrn * ca_from_v(n.vm_dend)
        } else {
            0.0
        };
        self.learn_ca.update(n, nmda_ca);
        let int_dt = if plus { 3.0 } else { 1.0 } / self.int_tau;
        n.act_int += int_dt * (n.act - n.act_int);
    }
}

/// Structure-of-arrays state for all neurons of a network (indices are global).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Neurons {
    /// Somatic membrane potential, mV.
    pub vm: Vec<f32>,
    /// Dendritic membrane potential, mV.
    pub vm_dend: Vec<f32>,
    /// Cycles since the last spike (−1: never).
    pub isi: Vec<f32>,
    /// Running average ISI (−1: unknown).
    pub isi_avg: Vec<f32>,
    /// 1 on a spiking cycle.
    pub spike: Vec<f32>,
    /// Rate-code activity.
    pub act: Vec<f32>,
    /// AMPA conductance.
    pub ge_syn: Vec<f32>,
    /// GABA-A synaptic conductance.
    pub gi_syn: Vec<f32>,
    /// Total Ge of the last cycle.
    pub ge: Vec<f32>,
    /// Total Gi of the last cycle.
    pub gi: Vec<f32>,
    /// Excitatory input of the last cycle (feeds feedforward inhibition).
    pub ge_raw: Vec<f32>,
    /// NMDA activation.
    pub gnmda_syn: Vec<f32>,
    /// GABA-B X.
    pub gabab_x: Vec<f32>,
    /// GABA-B M.
    pub gabab_m: Vec<f32>,
    /// Spike Ca: M.
    pub ca_m: Vec<f32>,
    /// Spike Ca: P.
    pub ca_p: Vec<f32>,
    /// Spike Ca: D.
    pub ca_d: Vec<f32>,
    /// Synaptic-credit Ca trace.
    pub ca_syn: Vec<f32>,
    /// NMDA learning drive.
    pub gnmda_lrn: Vec<f32>,
    /// VGCC Ca integrator.
    pub vgcc_ca_int: Vec<f32>,
    /// Learning Ca: M.
    pub lca_m: Vec<f32>,
    /// Learning Ca: P.
    pub lca_p: Vec<f32>,
    /// Learning Ca: D.
    pub lca_d: Vec<f32>,
    /// Phase-integrated activity.
    pub act_int: Vec<f32>,
    /// ActInt at the end of the minus phase.
    pub act_m: Vec<f32>,
    /// ActInt at the end of the plus phase.
    pub act_p: Vec<f32>,
    /// Spike CaP at the end of the minus phase.
    pub ca_p_m: Vec<f32>,
    /// Receiver learning-rate factor, latched at the end of the plus phase.
    pub rl_rate: Vec<f32>,
    /// 5IB burst (Super layers) or CaP (others).
    pub burst: Vec<f32>,
    /// Burst of the previous theta cycle.
    pub burst_prv: Vec<f32>,
    /// CT context conductance held through the theta cycle.
    pub ctxt_ge: Vec<f32>,
    /// CT context accumulated during the current cycle, latched at its end.
    pub ctxt_ge_raw: Vec<f32>,
    /// External input (clamped value), NaN-free; meaningful where `has_ext` is set.
    pub ext: Vec<f32>,
    /// Long-run average activity (trials), for synaptic scaling.
    pub act_avg: Vec<f32>,
    /// Per-neuron target activity relative to the pool mean.
    pub trg_avg: Vec<f32>,
    /// Accumulated change of `trg_avg` since the last slow update.
    pub dtrg_avg: Vec<f32>,
    /// CaSyn averaged into bins of `bin_cycles` cycles, `n × bins` (neuron-major).
    pub bins: Vec<f32>,
}

macro_rules! neuron_fields {
    ($m:ident) => {
        $m!(
            vm,
            vm_dend,
            isi,
            isi_avg,
            spike,
            act,
            ge_syn,
            gi_syn,
            ge,
            gi,
            gnmda_syn,
            gabab_x,
            gabab_m,
            ca_m,
            ca_p,
            ca_d,
            ca_syn,
            gnmda_lrn,
            vgcc_ca_int,
            lca_m,
            lca_p,
            lca_d,
            act_int
        )
    };
}

impl Neurons {
    /// Appends `n` neurons at rest.
    pub fn push_rest(&mut self, p: &NeuronParams, n: usize, bins: usize) {
        let r = NeuronScalar::rest(p);
        for _ in 0..n {
            self.store(self.vm.len(), &r, true);
        }
        for v in [
            &mut self.ge_raw,
            &mut self.act_m,
            &mut self.act_p,
            &mut self.ca_p_m,
            &mut self.rl_rate,
            &mut self.burst,
            &mut self.burst_prv,
            &mut self.ctxt_ge,
            &mut self.ctxt_ge_raw,
            &mut self.ext,
            &mut self.dtrg_avg,
        ] {
            v.resize(v.len() + n, 0.0);
        }
        self.act_avg.resize(self.act_avg.len() + n, 0.1);
        self.trg_avg.resize(self.trg_avg.len() + n, 1.0);
        self.bins.resize(self.bins.len() + n * bins, 0.0);
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.vm.len()
    }

    /// True when there are no neurons.
    pub fn is_empty(&self) -> bool {
        self.vm.is_empty()
    }

    /// Copies neuron `i` out into a scalar.
    #[inline(always)]
    pub fn load(&self, i: usize) -> NeuronScalar {
        let mut s = NeuronScalar::default();
        macro_rules! ld { ($($f:ident),*) => { $( s.$f = self.$f[i]; )* } }
        neuron_fields!(ld);
        s
    }

    /// Writes a scalar back to neuron `i` (or appends it when `push`).
    #[inline(always)]
    pub fn store(&mut self, i: usize, s: &NeuronScalar, push: bool) {
        macro_rules! st { ($($f:ident),*) => { $( if push { self.$f.push(s.$f) } else { self.$f[i] = s.$f } )* } }
        neuron_fields!(st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel_close(a: f32, b: f32, tol: f32) -> bool {
        if b == 0.0 {
            a.abs() < tol
        } else {
            ((a - b) / b).abs() < tol
        }
    }

    /// Axon `TestActUpdate` vectors (reference §11.1).
    #[test]
    fn single_neuron_reference_vectors() {
        let p = NeuronParams::default();
        let incs = [0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.2, 0.3, 0.2];
        let ge_e = [
            0.01, 0.038, 0.0904, 0.17232, 0.287856, 0.48028478, 0.8342278, 1.4173822, 2.083906,
        ];
        let vm_e = [
            -41.99916, -58.799328, -70.0, -65.84951, -59.679028, -50.775784, -36.162888, 0.0,
            -41.99916,
        ];
        let inet_e = [
            -11801.765, -4720.847, -3147.389, 1126.3328, 1655.2369, 2340.8262, 3751.8467,
            31268.564, -11801.765,
        ];
        let act_e = [
            0.3558719, 0.585099, 0.7327506, 0.82785714, 0.88911796, 0.9285778, 0.9539949,
            0.97036684, 0.98091245,
        ];
        let mut n = NeuronScalar::default(); // all zero: Vm = 0, ISI = 0
        let mut ge_raw = 0.0f32;
        let mut ge_syn = 0.0f32;
        for k in 0..9 {
            ge_raw += incs[k];
            ge_syn = ge_syn + ge_raw - ge_syn / p.ge_tau;
            let (vm, inet, _) = p.vm_step(n.vm, n.isi, ge_syn, 0.0, 0.0, 0.0);
            n.vm = vm;
            p.spike_from_vm(&mut n);
            assert!(rel_close(ge_syn, ge_e[k], 1e-4), "Ge step {k}: {ge_syn}");
            assert!(
                rel_close(vm, vm_e[k], 1e-4),
                "Vm step {k}: {vm} vs {}",
                vm_e[k]
            );
            assert!(
                rel_close(inet, inet_e[k], 1e-4),
                "Inet step {k}: {inet} vs {}",
                inet_e[k]
            );
            assert_eq!(n.spike == 1.0, k == 7, "spike at step {k}");
            assert!(
                rel_close(n.act, act_e[k], 1e-4),
                "Act step {k}: {} vs {}",
                n.act,
                act_e[k]
            );
        }
    }

    #[test]
    fn resting_neuron_stays_silent_and_driven_neuron_fires() {
        let p = NeuronParams::default();
        let mut n = NeuronScalar::rest(&p);
        let inp = CycleIn::default();
        for _ in 0..200 {
            p.cycle(&mut n, &inp, false);
            assert_eq!(n.spike, 0.0);
        }
        // GABA-B's baseline conductance pulls rest slightly below E_L toward E_K.
        assert!((n.vm - p.erev.l).abs() < 2.0, "rest Vm {}", n.vm);
        let drive = CycleIn {
            clamp: Some(0.5),
            ..Default::default()
        };
        let mut spikes = 0;
        for _ in 0..200 {
            p.cycle(&mut n, &drive, false);
            spikes += n.spike as i32;
        }
        assert!(spikes > 5, "driven neuron spiked {spikes} times in 200 ms");
        assert!(n.ca_p > 0.0 && n.lca_p > 0.0 && n.act > 0.1);
    }

    #[test]
    fn validation_rejects_nan_and_bad_ranges() {
        let mut p = NeuronParams::default();
        assert!(p.validate("n").is_ok());
        p.vm_c = f32::NAN;
        let e = p.validate("layers.H").unwrap_err().to_string();
        assert!(e.contains("layers.H.vm_c"), "{e}");
        let mut p = NeuronParams::default();
        p.spike.exp_thr = -80.0;
        assert!(p.validate("n").is_err());
    }
}
