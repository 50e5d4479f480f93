//! AdEx-style spiking neurons in biological units (mV, nS, pF), 1 ms cycles.
//!
//! State is stored as structure-of-arrays ([`Neurons`]) so that the per-cycle loop over a layer is
//! a straight run over contiguous `f32` slices. The single-neuron integration step is
//! [`NeuronParams::vm_step`]; [`NeuronParams::cycle`] runs one full cycle (channels, membrane,
//! spike, calcium) for one neuron and is what the layers call in their loops.

use serde::{Deserialize, Serialize};

use super::error::{Result, check_pos, check_range};
use super::kinase::{CaParams, LearnCaParams};
use super::simd::{Vf, WIDTH};

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

/// Neurons updated together by one call of the cycle kernel.
pub const LANES: usize = WIDTH;
/// One value per lane.
pub type V = Vf;

/// Per-cycle state of [`LANES`] neurons, one array per variable: the unit of work of
/// [`NeuronParams::cycle`], written branch-free so the compiler can vectorise across lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Lanes {
    /// Somatic membrane potential, mV.
    pub vm: V,
    /// Dendritic membrane potential, mV.
    pub vm_dend: V,
    /// Cycles since the last spike; −1 before the first spike.
    pub isi: V,
    /// Running average inter-spike interval; −1 until two spikes were seen.
    pub isi_avg: V,
    /// 1 on a spiking cycle, else 0.
    pub spike: V,
    /// Rate-code activity in [0, 1] (statistics only).
    pub act: V,
    /// Net current of the last integration step, pA (diagnostic).
    pub inet: V,
    /// AMPA conductance (normalised, ×gbar.e nS).
    pub ge_syn: V,
    /// GABA-A conductance from synapses (normalised).
    pub gi_syn: V,
    /// Total excitatory conductance used for Vm (normalised).
    pub ge: V,
    /// Total inhibitory conductance used for Vm (normalised).
    pub gi: V,
    /// NMDA synaptic activation.
    pub gnmda_syn: V,
    /// GABA-B X state.
    pub gabab_x: V,
    /// GABA-B M state.
    pub gabab_m: V,
    /// Spike calcium cascade M.
    pub ca_m: V,
    /// Fast (CaMKII-like) spike calcium.
    pub ca_p: V,
    /// Slow (DAPK1-like) spike calcium.
    pub ca_d: V,
    /// Synaptic-credit calcium trace.
    pub ca_syn: V,
    /// NMDA learning drive.
    pub gnmda_lrn: V,
    /// VGCC calcium integrator.
    pub vgcc_ca_int: V,
    /// Learning calcium cascade M.
    pub lca_m: V,
    /// Learning calcium P (LTP side).
    pub lca_p: V,
    /// Learning calcium D (LTD side).
    pub lca_d: V,
    /// Phase-integrated activity.
    pub act_int: V,
}

/// Applies `$m!` to the list of per-cycle state variables (the fields of [`Lanes`]).
macro_rules! lane_fields {
    ($m:ident) => {
        $m! {
            vm, vm_dend, isi, isi_avg, spike, act, inet, ge_syn, gi_syn, ge, gi, gnmda_syn,
            gabab_x, gabab_m, ca_m, ca_p, ca_d, ca_syn, gnmda_lrn, vgcc_ca_int, lca_m, lca_p,
            lca_d, act_int
        }
    };
}

impl Lanes {
    /// Every lane at rest, never having spiked.
    pub fn rest(p: &NeuronParams) -> Self {
        Self {
            vm: Vf::splat(p.erev.l),
            vm_dend: Vf::splat(p.erev.l),
            isi: Vf::splat(-1.0),
            isi_avg: Vf::splat(-1.0),
            ..Default::default()
        }
    }
}

/// Inputs of one cycle for [`LANES`] neurons.
#[derive(Clone, Copy, Debug, Default)]
pub struct LaneIn {
    /// Excitatory synaptic input arriving this cycle (normalised).
    pub ge_raw: V,
    /// Inhibitory synaptic input arriving this cycle (normalised).
    pub gi_raw: V,
    /// Pool (FS-FFFB) inhibition.
    pub pool_gi: V,
    /// Pool slow inhibition, for the dendrite.
    pub ss_gi: V,
    /// Clamped conductance; used where `clamped` is set, replacing the synaptic AMPA conductance.
    pub clamp_ge: V,
    /// 1 where the unit is clamped, else 0.
    pub clamped: V,
    /// Current injected into the soma, pA (the plasticity protocol's patch-clamp drive).
    pub inj: V,
    /// GABA-B activation from inhibition, `GFromS(Gi)`, when precomputed per pool (see
    /// [`Shortcuts::gabab_from_pool`]).
    pub gabab_s: V,
}

/// Work the kernel may skip because its result is known to be exactly zero or already computed.
/// Every shortcut gives bit-identical results to the full computation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shortcuts {
    /// No excitatory synaptic input ever arrives (input layers): NMDA conductance and NMDA
    /// calcium stay exactly 0, so their voltage-dependent factors need not be computed.
    pub no_syn_input: bool,
    /// No inhibitory synaptic input ever arrives: Gi is the pool's, and `LaneIn::gabab_s` holds
    /// `GFromS(Gi)` computed once per pool.
    pub gabab_from_pool: bool,
}

/// Derived per-layer constants of the kernel: reciprocals of time constants and the like, so
/// the inner loop multiplies instead of dividing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NeuronConsts {
    ge_dt: f32,
    gi_dt: f32,
    nmda_dt: f32,
    gabab_ddt: f32,
    gabab_rdt: f32,
    gabab_tau_fact: f32,
    vm_dt: f32,
    vm_dend_dt: f32,
    lim: f32,
    lim_dend: f32,
    tr: f32,
    r_dt: f32,
    act_dt: f32,
    rate_k: f32,
    isi_dt: f32,
    int_dt: f32,
    ca_m_dt: f32,
    ca_p_dt: f32,
    ca_d_dt: f32,
    ca_syn_dt: f32,
    vgcc_dt: f32,
    lca_norm: f32,
    lca_m_dt: f32,
    lca_p_dt: f32,
    lca_d_dt: f32,
    mg_k: f32,
    nmda_on: f32,
    inv_slope: f32,
    vm_c: f32,
}

/// GABA-B activation as a function of inhibition: `1 / (1 + exp(−(10·Gi − 7.1)/1.4))`.
/// Generic over one value or lanes, so a per-pool scalar and a per-lane vector are bit-identical.
#[inline(always)]
pub fn gabab_g_from_s<T>(gi: T) -> T
where
    T: Copy + std::ops::Mul<f32, Output = T> + GabaExp,
{
    gi.gaba_s()
}

/// Evaluation of the GABA-B sigmoid for scalars and lanes alike.
pub trait GabaExp {
    /// `1 / (1 + exp((7.1 − 10·x) / 1.4))`.
    fn gaba_s(self) -> Self;
}

impl GabaExp for f32 {
    #[inline(always)]
    fn gaba_s(self) -> f32 {
        1.0 / (1.0 + super::math::fast_exp((7.1 - 10.0 * self) * (1.0 / 1.4)))
    }
}

impl GabaExp for Vf {
    #[inline(always)]
    fn gaba_s(self) -> Vf {
        1.0 / (1.0 + ((7.1 - 10.0 * self) * (1.0 / 1.4)).exp())
    }
}

/// Net membrane current at `v` (pA), clipped at ±`lim`: excitatory, leak, inhibitory and
/// potassium currents (conductances already in nS) plus an injected current.
#[inline(always)]
fn inet(
    v: Vf,
    ge: Vf,
    gl: impl Into<Vf>,
    gi: Vf,
    gk: Vf,
    (ee, el, ei, ek): (f32, f32, f32, f32),
    inj: Vf,
    lim: f32,
) -> Vf {
    let gl = gl.into();
    (ge * (ee - v) + gl * (el - v) + gi * (ei - v) + gk * (ek - v) + inj).clamp(-lim, lim)
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

    /// The kernel's derived constants.
    pub fn consts(&self) -> NeuronConsts {
        let (r, d) = (self.gabab.rise, self.gabab.decay);
        NeuronConsts {
            ge_dt: 1.0 / self.ge_tau,
            gi_dt: 1.0 / self.gi_tau,
            nmda_dt: 1.0 / self.nmda.tau,
            gabab_ddt: 1.0 / d,
            gabab_rdt: 1.0 / r,
            // Normalises the rise/decay pair so that M peaks near X.
            gabab_tau_fact: (d / r).powf(r / (d - r)),
            vm_dt: 1.0 / self.vm_c,
            vm_dend_dt: 1.0 / self.vm_dend_c,
            lim: 100.0 * self.vm_c,
            lim_dend: 100.0 * self.vm_dend_c,
            tr: self.spike.tr as f32,
            r_dt: 1.0 / self.spike.r_tau,
            // Act integrates toward the ISI rate at 100/VmC per cycle (Axon's constant).
            act_dt: 100.0 / self.vm_c,
            rate_k: 1000.0 / self.spike.max_hz,
            isi_dt: 1.0 / self.spike.isi_tau,
            int_dt: 1.0 / self.int_tau,
            ca_m_dt: 1.0 / self.ca.m_tau,
            ca_p_dt: 1.0 / self.ca.p_tau,
            ca_d_dt: 1.0 / self.ca.d_tau,
            ca_syn_dt: 1.0 / self.ca.syn_tau,
            vgcc_dt: 1.0 / self.learn_ca.vgcc_tau,
            lca_norm: 1.0 / self.learn_ca.norm,
            lca_m_dt: 1.0 / self.learn_ca.m_tau,
            lca_p_dt: 1.0 / self.learn_ca.p_tau,
            lca_d_dt: 1.0 / self.learn_ca.d_tau,
            mg_k: self.nmda.mg_c / 3.57,
            nmda_on: if self.learn_ca.on { 1.0 } else { 0.0 },
            inv_slope: 1.0 / self.spike.exp_slope,
            vm_c: self.vm_c,
        }
    }

    /// One full 1 ms cycle of [`LANES`] neurons: channels, soma and dendrite, spike, activity
    /// and calcium. Branch-free: conditions are lane masks and `select`s.
    ///
    /// Soma: while refractory (`0 ≤ isi < tr`) Vm relaxes toward `vm_r` and lands on it exactly
    /// at the last refractory cycle (the reported Inet is then that step over VmDt); otherwise it
    /// takes two half-steps of the conductance equation and then adds the AdEx exponential
    /// current evaluated at the step's mean Vm. Conductance and exponential currents are each
    /// clipped at ±100·VmC, bounding a step to 100 mV; Inet reports their sum. A spike is a
    /// crossing of `exp_thr`; Vm is not reset on the spike cycle, the refractory period does it.
    #[inline(always)]
    pub fn cycle(&self, k: &NeuronConsts, n: &mut Lanes, inp: &LaneIn, plus: bool, cut: Shortcuts) {
        let s = &self.spike;
        let (ge_b, gl, gi_b, gk_b) = (self.gbar.e, self.gbar.l, self.gbar.i, self.gbar.k);
        let (ee, el, ei, ek) = (self.erev.e, self.erev.l, self.erev.i, self.erev.k);
        let int_dt = if plus { 3.0 * k.int_dt } else { k.int_dt };
        // Channels. A clamp is a direct drive, not synaptic input: it sets the AMPA-like
        // conductance but does not load NMDA (which would outlast the clamp by ~100 ms).
        let ge_raw = inp.ge_raw;
        let syn = n.ge_syn + ge_raw - n.ge_syn * k.ge_dt;
        n.ge_syn = inp.clamped.gt(0.0).select(inp.clamp_ge, syn);
        n.gi_syn += inp.gi_raw - n.gi_syn * k.gi_dt;
        n.gnmda_syn += ge_raw - n.gnmda_syn * k.nmda_dt;
        let vd = n.vm_dend;
        // Jahr & Stevens magnesium block; no NMDA drive at or above 0 mV.
        let mg = if cut.no_syn_input {
            Vf::splat(0.0)
        } else {
            vd.ge(0.0)
                .select(0.0, -vd / (1.0 + k.mg_k * (-0.062 * vd).exp()))
        };
        let gnmda = self.nmda.ge * mg * n.gnmda_syn;
        let gi = inp.pool_gi + n.gi_syn;
        let g_from_s = if cut.gabab_from_pool {
            inp.gabab_s
        } else {
            gabab_g_from_s(gi)
        };
        n.gabab_x += g_from_s - n.gabab_x * k.gabab_ddt;
        n.gabab_m += (k.gabab_tau_fact * n.gabab_x - n.gabab_m) * k.gabab_rdt;
        let g_from_v = (vd + 90.0) / (1.0 + (0.1 * (vd + 100.0)).exp());
        let gk = self.gabab.gk * g_from_v * (n.gabab_m + self.gabab.gbase);
        let ge = n.ge_syn + gnmda;
        n.ge = ge;
        n.gi = gi;
        // Soma.
        let vm0 = n.vm;
        let isi = n.isi;
        let refr = isi.ge(0.0).and(isi.lt(k.tr));
        let dv_r = isi
            .ge(k.tr - 1.0)
            .select(s.vm_r - vm0, k.r_dt * (s.vm_r - vm0));
        let (g_e, g_i, g_k) = (ge * ge_b, gi * gi_b, gk * gk_b);
        let rev = (ee, el, ei, ek);
        let i1 = inet(vm0, g_e, gl, g_i, g_k, rev, inp.inj, k.lim);
        let v1 = (vm0 + (0.5 * k.vm_dt) * i1).clamp(VM_MIN, VM_MAX);
        let i2 = inet(v1, g_e, gl, g_i, g_k, rev, inp.inj, k.lim);
        let v2 = (v1 + (0.5 * k.vm_dt) * i2).clamp(VM_MIN, VM_MAX);
        let exp_i = (gl * s.exp_slope * ((0.5 * (v2 + vm0) - s.thr) * k.inv_slope).exp())
            .clamp(-k.lim, k.lim);
        let v3 = (v2 + k.vm_dt * exp_i).clamp(VM_MIN, VM_MAX);
        n.vm = refr.select(vm0 + dv_r, v3);
        n.inet = refr.select(dv_r * k.vm_c, i2 + exp_i);
        let exp_i = refr.select(0.0, exp_i);
        // Dendrite: never spikes or resets; extra leak while refractory, the pool's slow
        // inhibition, and a fraction of the spike current.
        let gl_d = refr.select(gl * (1.0 + self.dend.g_r), gl);
        let g_id = (gi + self.dend.ss_gi * inp.ss_gi) * gi_b;
        let zero = Vf::splat(0.0);
        let id1 = inet(vd, g_e, gl_d, g_id, g_k, rev, zero, k.lim_dend);
        let d1 = (vd + (0.5 * k.vm_dend_dt) * id1).clamp(VM_MIN, VM_MAX);
        let id2 = inet(d1, g_e, gl_d, g_id, g_k, rev, zero, k.lim_dend);
        let d2 = (d1 + (0.5 * k.vm_dend_dt) * id2).clamp(VM_MIN, VM_MAX);
        n.vm_dend = (d2 + (k.vm_dend_dt * self.dend.g_exp) * exp_i).clamp(VM_MIN, VM_MAX);
        // Spike, ISI and rate-code activity. The rate comes from the running average ISI, or
        // from the silence since the last spike once that is longer (when an average is known;
        // a fresh average of 0 means "fast").
        let spiked = n.vm.ge(s.exp_thr);
        let avg = n.isi_avg;
        let known = avg.gt(0.0).and(isi.gt(avg)).select(isi, avg);
        let unknown = isi.ge(0.0).select(isi.max(1.0), -1.0);
        let isi_eff = avg.ge(0.0).select(known, unknown);
        let new_avg = avg.lt(0.0).select(isi, avg + (isi - avg) * k.isi_dt);
        n.isi_avg = spiked.and(isi.gt(0.0)).select(new_avg, avg);
        n.isi = spiked.select(0.0, isi.ge(0.0).select(isi + 1.0, isi));
        let spike = spiked.as_f8();
        n.spike = spike;
        let rate = isi_eff.le(0.0).select(1.0, (k.rate_k / isi_eff).min(1.0));
        let new_act = isi_eff.lt(0.0).select(0.0, rate);
        n.act += k.act_dt * (new_act - n.act);
        // Spike calcium cascade and the synaptic-credit trace.
        n.ca_m += (self.ca.spike_g * spike - n.ca_m) * k.ca_m_dt;
        n.ca_p += (n.ca_m - n.ca_p) * k.ca_p_dt;
        n.ca_d += (n.ca_p - n.ca_d) * k.ca_d_dt;
        n.ca_syn += (self.ca.syn_spike_g * spike - n.ca_syn) * k.ca_syn_dt;
        // Learning calcium: NMDA at the dendrite (GHK-style driving force, whose limit at 0 mV
        // is 1/0.0756) plus VGCC per spike.
        n.gnmda_lrn += ge_raw - n.gnmda_lrn * k.nmda_dt;
        let nmda_ca = if cut.no_syn_input {
            Vf::splat(0.0)
        } else {
            let den = 1.0 - (0.0756 * vd).exp();
            let ca_v = vd
                .abs()
                .lt(1e-3)
                .select(1.0 / 0.0756, -vd / den.abs().lt(1e-6).select(1.0, den));
            (k.nmda_on * self.nmda.ge) * mg * n.gnmda_lrn * ca_v
        };
        n.vgcc_ca_int += self.learn_ca.spike_vgcc_ca * spike - n.vgcc_ca_int * k.vgcc_dt;
        let ca = (nmda_ca + n.vgcc_ca_int) * k.lca_norm;
        n.lca_m += (ca - n.lca_m) * k.lca_m_dt;
        n.lca_p += (n.lca_m - n.lca_p) * k.lca_p_dt;
        n.lca_d += (n.lca_p - n.lca_d) * k.lca_d_dt;
        n.act_int += int_dt * (n.act - n.act_int);
    }
}

/// State of all neurons of a network (indices are global), one array per variable.
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
    /// Net current of the last cycle, pA.
    pub inet: Vec<f32>,
    /// AMPA conductance.
    pub ge_syn: Vec<f32>,
    /// GABA-A synaptic conductance.
    pub gi_syn: Vec<f32>,
    /// Total Ge of the last cycle.
    pub ge: Vec<f32>,
    /// Total Gi of the last cycle.
    pub gi: Vec<f32>,
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
    /// Excitatory input of the last cycle (feeds feedforward inhibition).
    pub ge_raw: Vec<f32>,
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
    /// CT context accumulated at the end of the current cycle.
    pub ctxt_ge_raw: Vec<f32>,
    /// External input (clamped value) of input and target units.
    pub ext: Vec<f32>,
    /// Outcome values of input (driver) units: what drives their pulvinar in the plus phase.
    pub outcome: Vec<f32>,
    /// Long-run average minus-phase activity (theta cycles), for synaptic scaling.
    pub act_avg: Vec<f32>,
    /// Per-neuron target activity relative to its pool's mean.
    pub trg_avg: Vec<f32>,
    /// Accumulated change of `trg_avg` since the last slow update.
    pub dtrg_avg: Vec<f32>,
    /// CaSyn averaged into bins of `bin_cycles` cycles, `n × bins` (neuron-major).
    pub bins: Vec<f32>,
}

/// Work on one chunk of [`LANES`] neurons, for [`LaneSlices::for_each_chunk`]. A trait rather
/// than a closure so that `#[inline(always)]` can make sure the kernel is inlined into the
/// caller's `#[target_feature]` build: a closure was left as a call.
pub(crate) trait ChunkFn {
    /// Updates the chunk at local index `i`.
    fn chunk(&self, i: usize, x: &mut Lanes);
}

macro_rules! def_slices {
    ($($f:ident),*) => {
        /// Mutable views of the per-cycle state of a contiguous range of neurons.
        pub(crate) struct LaneSlices<'a> {
            $(pub $f: &'a mut [f32],)*
        }

        impl<'a> LaneSlices<'a> {
            /// Views neurons `r` of `n`.
            pub fn of(n: &'a mut Neurons, r: std::ops::Range<usize>) -> Self {
                Self { $($f: &mut n.$f[r.clone()],)* }
            }

            /// Splits into `[0, mid)` and `[mid, len)`.
            pub fn split_at(self, mid: usize) -> (Self, Self) {
                $(let $f = self.$f.split_at_mut(mid);)*
                (Self { $($f: $f.0,)* }, Self { $($f: $f.1,)* })
            }

            /// Number of neurons viewed.
            pub fn len(&self) -> usize {
                self.vm.len()
            }

            /// Runs `f.chunk(i, lanes)` on every chunk of up to [`LANES`] neurons (local index `i`),
            /// loading each chunk and storing it back; lanes past the end of a short last
            /// chunk start as `fill` and are dropped.
            ///
            /// The slices are taken apart into locals cut to one length first: read through
            /// `self` inside the loop, every slice's pointer and length had to be reloaded
            /// and bounds-checked after each store (a store to an `f32` might have changed
            /// them, as far as the compiler knew), which cost as much as the arithmetic.
            #[inline(always)]
            pub fn for_each_chunk(self, fill: &Lanes, f: &impl ChunkFn) {
                let n = self.vm.len();
                $(let $f = &mut self.$f[..n];)*
                let full = n - n % LANES;
                let mut i = 0;
                while i < full {
                    let mut x = Lanes {
                        $($f: Vf($f[i..i + LANES].try_into().expect("LANES values")),)*
                    };
                    f.chunk(i, &mut x);
                    $($f[i..i + LANES].copy_from_slice(&x.$f.0);)*
                    i += LANES;
                }
                if i < n {
                    let len = n - i;
                    let mut x = *fill;
                    // Element loops: a partial chunk is too short to be worth a memcpy call.
                    $(for j in 0..len { x.$f.0[j] = $f[i + j]; })*
                    f.chunk(i, &mut x);
                    $(for j in 0..len { $f[i + j] = x.$f.0[j]; })*
                }
            }
        }

        impl Neurons {
            /// Appends `n` neurons at rest with `bins` trace bins each.
            pub fn push_rest(&mut self, p: &NeuronParams, n: usize, bins: usize) {
                let r = Lanes::rest(p);
                $(self.$f.resize(self.$f.len() + n, r.$f.0[0]);)*
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
                    &mut self.outcome,
                    &mut self.dtrg_avg,
                ] {
                    v.resize(v.len() + n, 0.0);
                }
                self.act_avg.resize(self.act_avg.len() + n, 0.1);
                self.trg_avg.resize(self.trg_avg.len() + n, 1.0);
                self.bins.resize(self.bins.len() + n * bins, 0.0);
            }

            /// Resets neurons `r` to rest as far as `act` and `glong` say (fractions in [0, 1]).
            pub fn decay(&mut self, p: &NeuronParams, r: std::ops::Range<usize>, act: f32, glong: f32) {
                for i in r {
                    if act >= 1.0 {
                        // A full reset also forgets the firing-rate estimate, or Act would
                        // climb straight back from the last inter-spike interval.
                        self.isi[i] = -1.0;
                        self.isi_avg[i] = -1.0;
                    }
                    if act > 0.0 {
                        self.vm[i] -= act * (self.vm[i] - p.erev.l);
                        self.vm_dend[i] -= act * (self.vm_dend[i] - p.erev.l);
                        self.act[i] -= act * self.act[i];
                        self.ge_syn[i] -= act * self.ge_syn[i];
                        self.gi_syn[i] -= act * self.gi_syn[i];
                    }
                    if glong > 0.0 {
                        self.gnmda_syn[i] -= glong * self.gnmda_syn[i];
                        self.gabab_x[i] -= glong * self.gabab_x[i];
                        self.gabab_m[i] -= glong * self.gabab_m[i];
                    }
                }
            }
        }
    };
}
lane_fields!(def_slices);

impl Neurons {
    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.vm.len()
    }

    /// True when there are no neurons.
    pub fn is_empty(&self) -> bool {
        self.vm.is_empty()
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

    /// Axon `TestActUpdate` vectors (reference §11.1), through the network's own kernel with
    /// only AMPA conductance (NMDA and GABA-B off, no inhibition), as in that test.
    #[test]
    fn single_neuron_reference_vectors() {
        let mut p = NeuronParams::default();
        p.nmda.ge = 0.0;
        p.gabab.gk = 0.0;
        let k = p.consts();
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
        let mut n = Lanes::default(); // all zero: Vm = 0, ISI = 0
        let mut inp = LaneIn::default();
        for step in 0..9 {
            // GeRaw accumulates the increments.
            inp.ge_raw.0[0] += incs[step];
            p.cycle(&k, &mut n, &inp, false, Shortcuts::default());
            assert!(
                rel_close(n.ge.0[0], ge_e[step], 1e-4),
                "Ge {step}: {}",
                n.ge.0[0]
            );
            assert!(
                rel_close(n.vm.0[0], vm_e[step], 1e-4),
                "Vm {step}: {}",
                n.vm.0[0]
            );
            assert!(
                rel_close(n.inet.0[0], inet_e[step], 1e-4),
                "Inet {step}: {}",
                n.inet.0[0]
            );
            assert_eq!(n.spike.0[0] == 1.0, step == 7, "spike at step {step}");
            assert!(
                rel_close(n.act.0[0], act_e[step], 1e-4),
                "Act {step}: {}",
                n.act.0[0]
            );
        }
    }

    #[test]
    fn resting_neuron_stays_silent_and_driven_neuron_fires() {
        let p = NeuronParams::default();
        let k = p.consts();
        let mut n = Lanes::rest(&p);
        let idle = LaneIn::default();
        for _ in 0..200 {
            p.cycle(&k, &mut n, &idle, false, Shortcuts::default());
            assert_eq!(n.spike.0[0], 0.0);
        }
        // GABA-B's baseline conductance pulls rest slightly below E_L toward E_K.
        assert!((n.vm.0[0] - p.erev.l).abs() < 2.0, "rest Vm {}", n.vm.0[0]);
        let mut drive = LaneIn::default();
        drive.clamped.0[0] = 1.0;
        drive.clamp_ge.0[0] = 0.5;
        let mut spikes = 0;
        for _ in 0..200 {
            p.cycle(&k, &mut n, &drive, false, Shortcuts::default());
            spikes += n.spike.0[0] as i32;
            assert_eq!(n.spike.0[1], 0.0, "lanes are independent");
        }
        assert!(spikes > 5, "driven neuron spiked {spikes} times in 200 ms");
        assert!(n.ca_p.0[0] > 0.0 && n.lca_p.0[0] > 0.0 && n.act.0[0] > 0.1);
    }

    /// Each shortcut computes exactly what the full kernel computes where it applies.
    #[test]
    fn kernel_shortcuts_are_bit_identical() {
        let p = NeuronParams::default();
        let k = p.consts();
        let (mut full, mut cut) = (Lanes::rest(&p), Lanes::rest(&p));
        let mut inp = LaneIn::default();
        for l in 0..LANES {
            inp.clamped.0[l] = 1.0;
            inp.clamp_ge.0[l] = 0.1 * l as f32;
            inp.pool_gi.0[l] = 0.4;
        }
        inp.gabab_s = Vf::splat(gabab_g_from_s(0.4f32));
        let shortcuts = Shortcuts {
            no_syn_input: true,
            gabab_from_pool: true,
        };
        for c in 0..300 {
            p.cycle(&k, &mut full, &inp, c >= 150, Shortcuts::default());
            p.cycle(&k, &mut cut, &inp, c >= 150, shortcuts);
        }
        assert!(full.ca_p.0.iter().any(|x| *x > 0.0), "units were active");
        assert_eq!(full, cut);
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
