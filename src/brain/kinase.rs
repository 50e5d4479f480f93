//! The kinase learning rule: calcium cascades, the receiver learning-rate factor, the binned
//! synaptic trace and the weight-change rules for hidden, target and CT-context pathways.
//!
//! Error = the receiver's learning-calcium temporal difference `LearnCaP − LearnCaD`
//! (CaMKII-like fast minus DAPK1-like slow); credit = a synaptic trace of pre × post calcium.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::error::{Result, check_pos, check_range};
use super::math::{sig6, sig6_inv};

/// Spike-driven calcium: the CaM → CaP → CaD cascade and the per-neuron CaSyn trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaParams {
    /// Calcium per spike into CaM. Default 8 (Axon uses 12 in large nets).
    pub spike_g: f32,
    /// CaM time constant, cycles. Default 5.
    pub m_tau: f32,
    /// CaP (fast, LTP) time constant, cycles. Default 40.
    pub p_tau: f32,
    /// CaD (slow, LTD) time constant, cycles. Default 40.
    pub d_tau: f32,
    /// Calcium per spike into CaSyn. Default 8.
    pub syn_spike_g: f32,
    /// CaSyn time constant, cycles. Default 30.
    pub syn_tau: f32,
}

impl Default for CaParams {
    fn default() -> Self {
        Self {
            spike_g: 8.0,
            m_tau: 5.0,
            p_tau: 40.0,
            d_tau: 40.0,
            syn_spike_g: 8.0,
            syn_tau: 30.0,
        }
    }
}

impl CaParams {
    /// Checks every field.
    pub fn validate(&self, at: &str) -> Result<()> {
        check_range(&format!("{at}.spike_g"), self.spike_g, 0.0, 1e3)?;
        check_range(&format!("{at}.m_tau"), self.m_tau, 1.0, 1e4)?;
        check_range(&format!("{at}.p_tau"), self.p_tau, 1.0, 1e4)?;
        check_range(&format!("{at}.d_tau"), self.d_tau, 1.0, 1e4)?;
        check_range(&format!("{at}.syn_spike_g"), self.syn_spike_g, 0.0, 1e3)?;
        check_range(&format!("{at}.syn_tau"), self.syn_tau, 1.0, 1e4)
    }
}

/// Learning calcium from NMDA and VGCC channels, driving the error signal `LearnCaP − LearnCaD`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearnCaParams {
    /// Include the NMDA calcium term. Default true.
    pub on: bool,
    /// VGCC calcium per spike. Default 35.
    pub spike_vgcc_ca: f32,
    /// VGCC calcium integration time constant, cycles. Default 10.
    pub vgcc_tau: f32,
    /// Divisor normalising the total calcium. Default 80.
    pub norm: f32,
    /// LearnCaM time constant. Default 2.
    pub m_tau: f32,
    /// LearnCaP time constant. Default 40.
    pub p_tau: f32,
    /// LearnCaD time constant. Default 40.
    pub d_tau: f32,
}

impl Default for LearnCaParams {
    fn default() -> Self {
        Self {
            on: true,
            spike_vgcc_ca: 35.0,
            vgcc_tau: 10.0,
            norm: 80.0,
            m_tau: 2.0,
            p_tau: 40.0,
            d_tau: 40.0,
        }
    }
}

impl LearnCaParams {
    /// Checks every field.
    pub fn validate(&self, at: &str) -> Result<()> {
        check_range(&format!("{at}.spike_vgcc_ca"), self.spike_vgcc_ca, 0.0, 1e4)?;
        check_range(&format!("{at}.vgcc_tau"), self.vgcc_tau, 1.0, 1e4)?;
        check_pos(&format!("{at}.norm"), self.norm)?;
        check_range(&format!("{at}.m_tau"), self.m_tau, 1.0, 1e4)?;
        check_range(&format!("{at}.p_tau"), self.p_tau, 1.0, 1e4)?;
        check_range(&format!("{at}.d_tau"), self.d_tau, 1.0, 1e4)
    }
}

/// Receiver learning-rate factor (Axon `RLRateParams`): a sigmoid-derivative term from the
/// receiver's CaD relative to its layer, times its normalised spike-calcium difference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RlRateParams {
    /// Use the factor at all; when false it is 1. Default true.
    pub on: bool,
    /// Floor of the sigmoid-derivative term; 1 turns it off (pulvinar). Default 0.05.
    pub sigmoid_min: f32,
    /// Minimum max(CaP, CaD) for the difference term. Default 0.1.
    pub spike_thr: f32,
    /// Minimum |CaP − CaD| for the difference term. Default 0.02.
    pub diff_thr: f32,
    /// Value of the difference term below those thresholds. Default 0.001.
    pub min: f32,
}

impl Default for RlRateParams {
    fn default() -> Self {
        Self {
            on: true,
            sigmoid_min: 0.05,
            spike_thr: 0.1,
            diff_thr: 0.02,
            min: 0.001,
        }
    }
}

impl RlRateParams {
    /// Checks every field.
    pub fn validate(&self, at: &str) -> Result<()> {
        check_range(&format!("{at}.sigmoid_min"), self.sigmoid_min, 0.0, 1.0)?;
        check_range(&format!("{at}.spike_thr"), self.spike_thr, 0.0, 1e3)?;
        check_range(&format!("{at}.diff_thr"), self.diff_thr, 0.0, 1e3)?;
        check_range(&format!("{at}.min"), self.min, 0.0, 1.0)
    }

    /// The factor for a neuron with spike calcium `ca_p`, `ca_d` in a layer whose largest CaD is
    /// `max_ca_d`.
    #[inline]
    pub fn factor(&self, ca_p: f32, ca_d: f32, max_ca_d: f32) -> f32 {
        if !self.on {
            return 1.0;
        }
        let c = if max_ca_d > 0.0 {
            (ca_d / max_ca_d).min(1.0)
        } else {
            0.0
        };
        let mlr = (4.0 * c * (1.0 - c)).max(self.sigmoid_min);
        let mx = ca_p.max(ca_d);
        let diff = (ca_p - ca_d).abs();
        let dlr = if mx > self.spike_thr && diff >= self.diff_thr {
            diff / mx
        } else {
            self.min
        };
        mlr * dlr
    }
}

/// Initialisation and slow adaptation of the structural weight SWt (Axon `SWtParams`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwtParams {
    /// Mean of the initial weights. Default 0.5.
    pub mean: f32,
    /// Half-width of the uniform initial distribution. Default 0.25.
    pub var: f32,
    /// How much of the initial variation goes into SWt (the rest into LWt). Default 0.5.
    pub spct: f32,
    /// Learning rate of SWt toward the accumulated weight changes. Default 0.1.
    pub adapt_lrate: f32,
    /// Lower limit of SWt. Default 0.2.
    pub lo: f32,
    /// Upper limit of SWt. Default 0.8.
    pub hi: f32,
}

impl Default for SwtParams {
    fn default() -> Self {
        Self {
            mean: 0.5,
            var: 0.25,
            spct: 0.5,
            adapt_lrate: 0.1,
            lo: 0.2,
            hi: 0.8,
        }
    }
}

impl SwtParams {
    /// Checks every field.
    pub fn validate(&self, at: &str) -> Result<()> {
        check_range(&format!("{at}.mean"), self.mean, 0.0, 1.0)?;
        check_range(&format!("{at}.var"), self.var, 0.0, 1.0)?;
        check_range(&format!("{at}.spct"), self.spct, 0.0, 1.0)?;
        check_range(&format!("{at}.adapt_lrate"), self.adapt_lrate, 0.0, 1.0)?;
        check_range(&format!("{at}.lo"), self.lo, 0.0, 1.0)?;
        check_range(&format!("{at}.hi"), self.hi, self.lo, 1.0)
    }

    /// Draws one synapse's (Wt, SWt, LWt).
    pub fn init(&self, rng: &mut impl Rng) -> (f32, f32, f32) {
        let wt =
            (self.mean + self.var * 2.0 * (rng.random::<f32>() - 0.5)).clamp(0.0, 2.0 * self.hi);
        let swt = (self.mean + self.spct * (wt - self.mean)).clamp(self.lo, self.hi);
        let lwt = lwt_from(wt, swt);
        (wt_from(swt, lwt), swt, lwt)
    }

    /// One synapse's (Wt, SWt, LWt) set to `wt` rather than drawn: the structural weight holds
    /// it (within `lo..=hi`), so learning moves the linear weight around it from mid-range.
    pub fn fixed(&self, wt: f32) -> (f32, f32, f32) {
        let wt = wt.clamp(0.0, 2.0 * self.hi);
        let swt = wt.clamp(self.lo, self.hi);
        let lwt = lwt_from(wt, swt);
        (wt_from(swt, lwt), swt, lwt)
    }
}

/// Effective weight from the structural and linear weights: `SWt · 2 · Sig(LWt)`.
#[inline(always)]
pub fn wt_from(swt: f32, lwt: f32) -> f32 {
    swt * 2.0 * sig6(lwt)
}

/// The linear weight that gives effective weight `wt` on structural weight `swt`.
#[inline(always)]
pub fn lwt_from(wt: f32, swt: f32) -> f32 {
    sig6_inv((wt / (2.0 * swt)).clamp(0.0, 1.0))
}

/// Soft bounding: increases shrink as LWt nears 1, decreases as it nears 0.
#[inline(always)]
pub fn soft_bound(dwt: f32, lwt: f32) -> f32 {
    if dwt > 0.0 {
        dwt * (1.0 - lwt)
    } else {
        dwt * lwt
    }
}

/// Regression weights that turn per-bin products of sender and receiver CaSyn into estimates of
/// a per-synapse calcium cascade's CaP and CaD at the end of the theta cycle.
///
/// Axon v2.0.0-dev0.2.58 ships one fixed 20-bin table fitted for 150/50 phases. Here the same
/// kind of least-squares fit runs for the configured cycle length, so other splits (100/100) get
/// weights of their own: synthetic Poisson spike trains with rates that change at the plus phase
/// drive a true per-synapse cascade `Ca = SpikeG · sCaSyn · rCaSyn → M → P → D`, carried over
/// back-to-back trials, and `wP`, `wD` are the ridge least-squares coefficients of its final CaP
/// and CaD on the bin products. The fit is deterministic (fixed seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SynCaBins {
    /// Weights for the synaptic CaP estimate, one per bin.
    pub wp: Vec<f32>,
    /// Weights for the synaptic CaD estimate, one per bin.
    pub wd: Vec<f32>,
    /// R² of the CaP fit on the training data.
    pub r2_p: f32,
    /// R² of the CaD fit.
    pub r2_d: f32,
    /// Uniform credit weights (`SpikeG / bins` each) for the hidden-layer trace.
    ///
    /// Deviation from v0.2.58, which uses the CaD regression (`wd`) as the credit trace: that
    /// weighting peaks 50–150 ms back, exactly where the receiver's own `LearnCaP − LearnCaD`
    /// kernel is negative, so credit and error covary and steady firing drifts toward LTD (the
    /// plasticity protocol measured 25→25 Hz at −40 % of the 25→50 Hz LTP). A flat sum over the
    /// cycle, as Axon HEAD uses (`SynCaTotal`), is nearly orthogonal to that kernel.
    pub wc: Vec<f32>,
    /// Weight of the end-of-cycle product `sCaSyn·rCaSyn` in the credit trace: the integral the
    /// traces will still add as they decay (τ/2 for the product), in bin units.
    ///
    /// Without it a spike in the last few milliseconds has barely entered the binned trace while
    /// an early one counts fully; that tilts credit toward exactly the lags where the error
    /// kernel is negative, and steady 50 Hz firing drifted to LTD at a quarter of the 25→50 LTP.
    pub w_tail: f32,
}

impl SynCaBins {
    /// Fits weights for a cycle of `minus + plus` cycles averaged into bins of `bin_cycles`.
    pub fn fit(minus: usize, plus: usize, bin_cycles: usize, ca: &CaParams) -> Self {
        let total = minus + plus;
        let nb = total.div_ceil(bin_cycles);
        let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_b175);
        let rates = [0.0f32, 10.0, 25.0, 50.0, 75.0, 100.0];
        let (mut s, mut r, mut m, mut p, mut d) = (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let (warm, trials) = (20, 3000);
        let mut xs: Vec<Vec<f64>> = Vec::with_capacity(trials);
        let mut yp = Vec::with_capacity(trials);
        let mut yd = Vec::with_capacity(trials);
        let mut bs = vec![0.0f32; nb];
        let mut br = vec![0.0f32; nb];
        let g = ca.syn_spike_g;
        for t in 0..warm + trials {
            let pick = |rng: &mut ChaCha8Rng| rates[rng.random_range(0..rates.len())];
            let (sm, rm, sp, rp) = (
                pick(&mut rng),
                pick(&mut rng),
                pick(&mut rng),
                pick(&mut rng),
            );
            bs.fill(0.0);
            br.fill(0.0);
            for c in 0..total {
                let (hs, hr) = if c < minus { (sm, rm) } else { (sp, rp) };
                let ss = if rng.random::<f32>() < hs / 1000.0 {
                    1.0
                } else {
                    0.0
                };
                let sr = if rng.random::<f32>() < hr / 1000.0 {
                    1.0
                } else {
                    0.0
                };
                s += (g * ss - s) / ca.syn_tau;
                r += (g * sr - r) / ca.syn_tau;
                let b = c / bin_cycles;
                bs[b] += s / bin_cycles as f32;
                br[b] += r / bin_cycles as f32;
                let x = s * r;
                m += (x - m) / ca.m_tau;
                p += (m - p) / ca.p_tau;
                d += (p - d) / ca.d_tau;
            }
            if t >= warm {
                xs.push((0..nb).map(|b| (bs[b] * br[b]) as f64).collect());
                yp.push(p as f64);
                yd.push(d as f64);
            }
        }
        // The fit is for a cascade of s·r (weights summing to ≈ 1); the synapse's calcium is
        // SpikeG · s · r, so the weights scale by SpikeG (Axon's table sums to ≈ 8 the same way).
        let (wp, r2_p) = ridge_fit(&xs, &yp);
        let (wd, r2_d) = ridge_fit(&xs, &yd);
        Self {
            wc: vec![ca.spike_g / nb as f32; nb],
            w_tail: ca.spike_g / nb as f32 * (ca.syn_tau / 2.0) / bin_cycles as f32,
            wp: wp.iter().map(|w| *w as f32 * ca.spike_g).collect(),
            wd: wd.iter().map(|w| *w as f32 * ca.spike_g).collect(),
            r2_p: r2_p as f32,
            r2_d: r2_d as f32,
        }
    }

    /// Number of bins.
    pub fn len(&self) -> usize {
        self.wp.len()
    }

    /// True when there are no bins.
    pub fn is_empty(&self) -> bool {
        self.wp.is_empty()
    }

    /// The hidden-layer credit trace from receiver and sender bins and their final CaSyn.
    #[inline(always)]
    pub fn credit(&self, r: &[f32], s: &[f32], r_end: f32, s_end: f32) -> f32 {
        let binned: f32 = self
            .wc
            .iter()
            .zip(r)
            .zip(s)
            .map(|((w, r), s)| w * r * s)
            .sum();
        binned + self.w_tail * r_end * s_end
    }
}

/// Ridge least squares through the origin; returns the coefficients and R².
fn ridge_fit(xs: &[Vec<f64>], y: &[f64]) -> (Vec<f64>, f64) {
    let n = xs[0].len();
    let mut a = vec![vec![0.0f64; n + 1]; n];
    for (x, &yy) in xs.iter().zip(y) {
        for i in 0..n {
            for j in 0..n {
                a[i][j] += x[i] * x[j];
            }
            a[i][n] += x[i] * yy;
        }
    }
    let tr = (0..n).map(|i| a[i][i]).sum::<f64>() / n as f64;
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += 1e-3 * tr;
    }
    for c in 0..n {
        let piv = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, piv);
        let d = a[c][c];
        if d.abs() < 1e-300 {
            continue;
        }
        for i in 0..n {
            if i != c {
                let f = a[i][c] / d;
                if f != 0.0 {
                    for j in c..=n {
                        a[i][j] -= f * a[c][j];
                    }
                }
            }
        }
    }
    let w: Vec<f64> = (0..n)
        .map(|i| {
            if a[i][i] != 0.0 {
                a[i][n] / a[i][i]
            } else {
                0.0
            }
        })
        .collect();
    let my = y.iter().sum::<f64>() / y.len() as f64;
    let (mut ss, mut se) = (0.0, 0.0);
    for (x, &yy) in xs.iter().zip(y) {
        let h: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
        ss += (yy - my) * (yy - my);
        se += (yy - h) * (yy - h);
    }
    (w, if ss > 0.0 { 1.0 - se / ss } else { 1.0 })
}

/// Hidden-layer rule: credit (synaptic CaD trace) × the receiver's learning-calcium difference.
#[inline(always)]
pub fn dwt_hidden(sy_ca_d: f32, lca_p: f32, lca_d: f32) -> f32 {
    sy_ca_d * (lca_p - lca_d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Axon v0.2.58's published 150/50 weights (reference §4.4).
    const AXON_WP: [f32; 20] = [
        0.0, 0.0347, 0.0907, 0.1467, 0.2027, 0.2160, 0.2293, 0.2427, 0.2560, 0.2693, 0.2827,
        0.2960, 0.3093, 0.3227, 0.3360, 0.5408, 0.7456, 0.9504, 1.1552, 1.3600,
    ];

    #[test]
    fn fitted_bins_explain_the_cascade_and_match_axon_scale() {
        let ca = CaParams::default();
        for (m, p) in [(150, 50), (100, 100)] {
            let b = SynCaBins::fit(m, p, 10, &ca);
            assert_eq!(b.len(), 20);
            assert!(
                b.r2_p > 0.99 && b.r2_d > 0.99,
                "{m}/{p}: R² {} {}",
                b.r2_p,
                b.r2_d
            );
            let (sp, sd): (f32, f32) = (b.wp.iter().sum(), b.wd.iter().sum());
            // Axon's table sums to ≈ 8 (= SpikeG) for both; flat activity then gives CaP ≈ CaD.
            assert!(
                (sp - 8.0).abs() < 0.8 && (sd - 8.0).abs() < 0.8,
                "sums {sp} {sd}"
            );
            // Like Axon's, CaP weights grow toward the end of the cycle and exceed CaD's there.
            assert!(b.wp[19] + b.wp[18] > b.wd[19] + b.wd[18]);
            assert!(b.wp[18] > 3.0 * b.wp[5]);
        }
        let axon_sum: f32 = AXON_WP.iter().sum();
        assert!((axon_sum - 8.0).abs() < 0.1);
    }

    #[test]
    fn rl_rate_is_small_for_flat_and_large_for_changing_activity() {
        let p = RlRateParams::default();
        let flat = p.factor(0.5, 0.5, 1.0);
        let up = p.factor(0.8, 0.4, 1.0);
        assert!(flat < 0.01 && up > 0.3, "{flat} {up}");
        let off = RlRateParams { on: false, ..p };
        assert_eq!(off.factor(0.1, 0.1, 1.0), 1.0);
    }

    #[test]
    fn weights_round_trip_and_stay_bounded() {
        let s = SwtParams::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..1000 {
            let (wt, swt, lwt) = s.init(&mut rng);
            assert!((0.2..=0.8).contains(&swt));
            assert!((0.0..=1.0).contains(&lwt));
            assert!((wt - wt_from(swt, lwt_from(wt, swt))).abs() < 1e-3);
        }
        assert_eq!(soft_bound(1.0, 1.0), 0.0);
        assert_eq!(soft_bound(-1.0, 0.0), 0.0);
    }
}
