//! Pathways: the synapses from one layer to another, stored per pathway in contiguous,
//! sender-major arrays (CSR), so a spike touches one contiguous row and learning can split the
//! rows across threads.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{BrainError, Result, check_range};
use super::kinase::{SwtParams, SynCaBins, lwt_from, wt_from};
use super::layer::Shape;
use super::simd::{Vf, WIDTH, widest_vectors};

/// What a pathway carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PathKind {
    /// Bottom-up excitation.
    Forward,
    /// Top-down excitation (usually with a smaller `rel`).
    Back,
    /// Within-level excitation.
    Lateral,
    /// Super → CT (or CT → CT) context: sent once at the end of each theta cycle from the
    /// sender's burst, and felt through the next cycle.
    CtCtxt,
    /// Inhibitory (GABA-A) synapses.
    Inhib,
}

/// Which sender connects to which receiver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Pattern {
    /// Every sender to every receiver.
    Full,
    /// Sender i to receiver i (equal sizes).
    OneToOne,
    /// Sender pool p to receiver pool p, all units within (equal pool counts).
    PoolOneToOne,
    /// Each sender–receiver pair with probability `p` (seeded).
    Random {
        /// Connection probability in (0, 1].
        p: f32,
    },
    /// Topographic: receiver pool (y, x) gets every unit of the sender pools within `radius` of
    /// its position scaled onto the sender's pool grid.
    PoolTile {
        /// Neighbourhood radius in sender pools.
        radius: usize,
    },
    /// Between two layers of one shape whose pools tile an image, each pool holding its tile's
    /// pixels with `channel_width` columns per channel side by side: a receiver gets the
    /// senders of its own channel whose pixels lie within `rows` rows and `cols` columns of
    /// its own.
    Window {
        /// Reach along the image's rows (up and down).
        rows: usize,
        /// Reach along its columns (left and right).
        cols: usize,
        /// Columns per channel in a pool (the tile width).
        channel_width: usize,
    },
}

/// Everything that defines one pathway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    /// Sending layer name.
    pub from: String,
    /// Receiving layer name.
    pub to: String,
    /// What it carries.
    pub kind: PathKind,
    /// Connectivity.
    pub pattern: Pattern,
    /// Absolute strength multiplier. Default 1.
    #[serde(default = "one")]
    pub abs: f32,
    /// Strength relative to the receiver's other pathways of the same class. Default 1
    /// (Axon uses 0.1–0.3 for feedback).
    #[serde(default = "one")]
    pub rel: f32,
    /// Learns. Default true.
    #[serde(default = "yes")]
    pub learn: bool,
    /// Learning rate. Default 0.04.
    #[serde(default = "default_lrate")]
    pub lrate: f32,
    /// Initial weights and slow adaptation.
    #[serde(default)]
    pub swt: SwtParams,
    /// Gating by an efference copy: when set, the pathway carries spikes and learns only in
    /// theta cycles in which that unit of that input layer is on. Default none (always on).
    #[serde(default)]
    pub gate: Option<Gate>,
    /// `Window` pathways only: the initial weight of each receiver's synapse from the sender
    /// at its own pixel (held by the structural weight, see [`SwtParams::fixed`]); the others
    /// are drawn from `swt` as usual. A prior that what is seen stays where it is. Default none.
    #[serde(default)]
    pub centre_init: Option<f32>,
}

/// A unit of an input layer that opens a gated pathway (see [`PathSpec::gate`]): as corollary
/// discharge selects which remapping circuit shifts receptive fields before a movement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// The input layer (an action layer).
    pub layer: String,
    /// The unit whose clamped value (at least 0.5) opens the pathway for the theta cycle.
    pub unit: usize,
}

fn one() -> f32 {
    1.0
}
fn yes() -> bool {
    true
}
fn default_lrate() -> f32 {
    0.04
}

impl PathSpec {
    /// A pathway with default strength and learning.
    pub fn new(from: &str, to: &str, kind: PathKind, pattern: Pattern) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            kind,
            pattern,
            abs: 1.0,
            rel: 1.0,
            learn: kind != PathKind::Inhib,
            lrate: default_lrate(),
            swt: SwtParams::default(),
            gate: None,
            centre_init: None,
        }
    }

    /// Builder: relative strength.
    pub fn rel(mut self, rel: f32) -> Self {
        self.rel = rel;
        self
    }

    /// Builder: absolute strength.
    pub fn abs(mut self, abs: f32) -> Self {
        self.abs = abs;
        self
    }

    /// Builder: learning rate (0 and `learn = false` both freeze it).
    pub fn lrate(mut self, lrate: f32) -> Self {
        self.lrate = lrate;
        self
    }

    /// Builder: open only while `unit` of input layer `layer` is on.
    pub fn gated(mut self, layer: &str, unit: usize) -> Self {
        self.gate = Some(Gate {
            layer: layer.into(),
            unit,
        });
        self
    }

    /// Builder: fixed (non-learning) weights.
    pub fn fixed(mut self) -> Self {
        self.learn = false;
        self
    }

    /// Builder: initial weight distribution.
    pub fn init(mut self, mean: f32, var: f32) -> Self {
        self.swt.mean = mean;
        self.swt.var = var;
        self
    }

    /// Checks every field; `i` is the pathway's position for messages.
    pub fn validate(&self, i: usize) -> Result<()> {
        let at = format!("paths[{i}] ({} → {})", self.from, self.to);
        check_range(&format!("{at}.abs"), self.abs, 0.0, 1e3)?;
        check_range(&format!("{at}.rel"), self.rel, 0.0, 1e3)?;
        check_range(&format!("{at}.lrate"), self.lrate, 0.0, 10.0)?;
        if let Pattern::Random { p } = self.pattern
            && (!p.is_finite() || p <= 0.0 || p > 1.0)
        {
            return Err(BrainError::InvalidParam {
                field: format!("{at}.pattern.p"),
                value: format!("{p}"),
                reason: "must be in (0, 1]".into(),
            });
        }
        if let Some(w) = self.centre_init {
            check_range(&format!("{at}.centre_init"), w, 0.0, 2.0 * self.swt.hi)?;
            if !matches!(self.pattern, Pattern::Window { .. }) {
                return Err(BrainError::InvalidParam {
                    field: format!("{at}.centre_init"),
                    value: format!("{w}"),
                    reason: "only a Window pathway has own-pixel synapses".into(),
                });
            }
        }
        self.swt.validate(&format!("{at}.swt"))
    }
}

/// A built pathway.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Path {
    /// Its definition.
    pub spec: PathSpec,
    /// Sending layer index.
    pub send: usize,
    /// Receiving layer index.
    pub recv: usize,
    /// Conductance per spike per unit weight.
    pub gscale: f32,
    /// True when every sender connects to every receiver in order (rows need no index).
    pub dense: bool,
    /// Row offsets per local sender (len = senders + 1).
    pub offs: Vec<u32>,
    /// Global receiver index of each synapse.
    pub ridx: Vec<u32>,
    /// Effective weight.
    pub wt: Vec<f32>,
    /// Linear (fast) weight in [0, 1].
    pub lwt: Vec<f32>,
    /// Structural (slow) weight.
    pub swt: Vec<f32>,
    /// Weight changes accumulated since the last slow adaptation.
    pub dswt: Vec<f32>,
    /// Runs of consecutive receivers, `(first receiver, length)`, of every row of an indexed
    /// pathway; row `s` has `runs[run_offs[s]..run_offs[s + 1]]`. Derived from `ridx` by
    /// [`Self::index_runs`], not saved.
    #[serde(skip)]
    runs: Vec<(u32, u32)>,
    #[serde(skip)]
    run_offs: Vec<u32>,
}

/// End of the run of consecutive receivers that starts at `rows[i]`.
#[inline(always)]
fn run_end(rows: &[u32], i: usize) -> usize {
    let mut j = i + 1;
    while j < rows.len() && rows[j] == rows[i] + (j - i) as u32 {
        j += 1;
    }
    j
}

/// Row `s`'s runs of consecutive receivers (see `Path::runs`), or `None` when the pathway's runs
/// are not indexed (a path used outside a network): callers then find them with [`run_end`].
#[inline(always)]
fn row_runs<'a>(
    runs: &'a [(u32, u32)],
    run_offs: &[u32],
    offs: &[u32],
    s: usize,
) -> Option<&'a [(u32, u32)]> {
    (run_offs.len() == offs.len()).then(|| &runs[run_offs[s] as usize..run_offs[s + 1] as usize])
}

/// `buf[r − offset] += scale · w` for each receiver `r` of a row, a run of consecutive
/// receivers (a pool, in topographic pathways) at a time so the adds vectorise.
#[inline(always)]
fn add_runs(rows: &[u32], w: &[f32], scale: f32, buf: &mut [f32], offset: usize) {
    let mut i = 0;
    while i < rows.len() {
        let r0 = rows[i] as usize;
        let j = run_end(rows, i);
        let d = &mut buf[r0 - offset..r0 - offset + (j - i)];
        for (d, w) in d.iter_mut().zip(&w[i..j]) {
            *d += scale * w;
        }
        i = j;
    }
}

/// Soft-bounded linear-weight step and the new effective weight `SWt · 2 · Sig(LWt)`, for
/// [`WIDTH`] synapses; branch-free. A zero change leaves the weight exactly as it was.
#[inline(always)]
fn update_lanes(lrate: f32, d: Vf, l: Vf, w: Vf, s: Vf, ds: Vf) -> (Vf, Vf, Vf) {
    let bound = d.gt(0.0).select(1.0 - l, l);
    let dl = lrate * d * bound;
    let nl = (l + dl).clamp(0.0, 1.0);
    // Sig(w) = 1 / (1 + ((1 − w)/w)^6); w = 0 gives 0 through ∞, without a branch.
    let r = (1.0 - nl) / nl.max(1e-30);
    let r2 = r * r;
    let sig = 1.0 / (1.0 + r2 * r2 * r2);
    let neww = dl.ne(0.0).select(s * 2.0 * sig, w);
    (nl, neww, ds + dl)
}

/// [`update_lanes`] for one synapse, with the same operations in the same order, so the two
/// agree bit for bit.
#[inline(always)]
fn update_one(lrate: f32, d: f32, l: f32, w: f32, s: f32, ds: f32) -> (f32, f32, f32) {
    let bound = if d > 0.0 { 1.0 - l } else { l };
    let dl = lrate * d * bound;
    let x = l + dl;
    let x = if x > 0.0 { x } else { 0.0 };
    let nl = if x < 1.0 { x } else { 1.0 };
    let r = (1.0 - nl) / if nl > 1e-30 { nl } else { 1e-30 };
    let r2 = r * r;
    let sig = 1.0 / (1.0 + r2 * r2 * r2);
    let neww = if dl != 0.0 { s * 2.0 * sig } else { w };
    (nl, neww, ds + dl)
}

/// Applies weight changes `dwt` (before the learning rate and soft bound) to one row.
#[inline(always)]
fn update_row_generic(
    lrate: f32,
    dwt: &[f32],
    lwt: &mut [f32],
    wt: &mut [f32],
    swt: &[f32],
    dswt: &mut [f32],
) {
    let n = dwt.len().min(lwt.len());
    let mut i = 0;
    while i < n {
        let m = WIDTH.min(n - i);
        if m == WIDTH {
            // Straight from the slice: zeroing a vector first and copying into it went through
            // the stack and stalled on store forwarding.
            let load = |v: &[f32]| Vf(v[i..i + WIDTH].try_into().expect("WIDTH lanes"));
            let (nl, nw, nds) =
                update_lanes(lrate, load(dwt), load(lwt), load(wt), load(swt), load(dswt));
            lwt[i..i + WIDTH].copy_from_slice(&nl.0);
            wt[i..i + WIDTH].copy_from_slice(&nw.0);
            dswt[i..i + WIDTH].copy_from_slice(&nds.0);
        } else {
            // The tail one synapse at a time: padding it into a vector through the stack
            // stalled on store forwarding, and most rows end in such a tail.
            for k in i..i + m {
                (lwt[k], wt[k], dswt[k]) =
                    update_one(lrate, dwt[k], lwt[k], wt[k], swt[k], dswt[k]);
            }
        }
        i += m;
    }
}

/// `credit[i] = scale · err[rows[i]]`; a dense row's receivers are consecutive, so it reads
/// them as one slice (which vectorises) instead of one index at a time.
#[inline(always)]
fn scale_errors(scale: f32, err: &[f32], rows: &[u32], dense: bool, credit: &mut [f32]) {
    if dense && let Some(&r0) = rows.first() {
        let r0 = r0 as usize;
        for (c, e) in credit.iter_mut().zip(&err[r0..r0 + rows.len()]) {
            *c = scale * e;
        }
    } else {
        for (c, &r) in credit.iter_mut().zip(rows) {
            *c = scale * err[r as usize];
        }
    }
}

/// The learning pass over a range of sender rows (one rayon job).
struct RowJob<'a> {
    offs: &'a [u32],
    ridx: &'a [u32],
    /// The pathway's indexed runs and their row offsets; empty when not indexed.
    runs: &'a [(u32, u32)],
    run_offs: &'a [u32],
    dense: bool,
    ctxt: bool,
    lrate: f32,
    s_start: usize,
    wb: &'a [f32],
    w_tail: f32,
    ctx: &'a LearnCtx<'a>,
}

impl RowJob<'_> {
    widest_vectors! {
        /// Runs with the widest vector instructions available; all builds give identical
        /// results.
        fn run(
            &self,
            s0: usize,
            s1: usize,
            wt: &mut [f32],
            lwt: &mut [f32],
            swt: &mut [f32],
            dswt: &mut [f32],
        ) = run_generic, run_avx512, run_avx2;
    }

    #[inline(always)]
    fn run_generic(
        &self,
        s0: usize,
        s1: usize,
        wt: &mut [f32],
        lwt: &mut [f32],
        swt: &mut [f32],
        dswt: &mut [f32],
    ) {
        let (offs, ridx, dense, ctxt, lrate, s_start, wb, w_tail, ctx) = (
            self.offs,
            self.ridx,
            self.dense,
            self.ctxt,
            self.lrate,
            self.s_start,
            self.wb,
            self.w_tail,
            self.ctx,
        );
        let nb = ctx.nb;
        let base = offs[s0] as usize;
        let mut credit: Vec<f32> = Vec::new();
        let mut coef = vec![0.0f32; nb];
        for s in s0..s1 {
            let gs = s_start + s;
            let (a, b) = (offs[s] as usize, offs[s + 1] as usize);
            if a == b {
                continue;
            }
            let row = a - base..b - base;
            let rows = &ridx[a..b];
            // Every branch below writes each entry, so only the length needs setting.
            credit.resize(b - a, 0.0);
            if ctxt {
                let sprv = ctx.burst_prv[gs];
                if sprv <= 0.0 {
                    continue;
                }
                scale_errors(sprv, ctx.r_err, rows, dense, &mut credit);
            } else if ctx.act_error {
                let sb = &ctx.ca_bins[gs * nb..gs * nb + ctx.minus_bins.min(nb)];
                let s_minus = sb.iter().sum::<f32>() / sb.len().max(1) as f32;
                if s_minus <= 0.0 {
                    continue;
                }
                scale_errors(s_minus, ctx.r_err, rows, dense, &mut credit);
            } else {
                if !ctx.active[gs] {
                    continue;
                }
                let sb = &ctx.ca_bins[gs * nb..gs * nb + nb];
                for k in 0..nb {
                    coef[k] = wb[k] * sb[k];
                }
                let s_tail = w_tail * ctx.ca_syn[gs];
                if dense {
                    // The whole row at once: bin-major receiver bins, contiguous; one sum per
                    // synapse over the bins in order.
                    let r0 = rows[0] as usize;
                    row_credit(&coef, ctx, r0, s_tail, &mut credit, false);
                } else {
                    // Runs of consecutive receivers (a pool, in topographic pathways), each
                    // summed in four lanes (see `row_credit`).
                    let indexed = row_runs(self.runs, self.run_offs, offs, s);
                    let mut i = 0;
                    let mut next_run = indexed.unwrap_or_default().iter();
                    while i < rows.len() {
                        let (r0, nr) = match next_run.next() {
                            Some(&(r0, len)) => (r0 as usize, len as usize),
                            // Runs not indexed (a path used outside a network): found here.
                            None => (rows[i] as usize, run_end(rows, i) - i),
                        };
                        let j = i + nr;
                        row_credit(&coef, ctx, r0, s_tail, &mut credit[i..j], true);
                        i = j;
                    }
                }
            }
            update_row_generic(
                lrate,
                &credit,
                &mut lwt[row.clone()],
                &mut wt[row.clone()],
                &swt[row.clone()],
                &mut dswt[row],
            );
        }
    }
}

/// Credit of consecutive receivers `r0..r0 + credit.len()` from one sender: per receiver, the
/// sum over bins of `coef[k] · bin k`, then `(sum + s_tail · CaSyn) · r_factor`. With
/// `four_lanes` each synapse sums its bins in four lanes (k mod 4; bins past the last multiple
/// of 4 into lane 0) joined as (0 + 1) + (2 + 3), else in one lane in bin order: the orders of
/// the loops this replaced, so weights stay bit-identical. Those loops skipped bins whose
/// coefficient is 0; adding their ±0 changes nothing, as bins are finite and a sum that starts
/// at +0 never becomes −0, so this adds them rather than branch.
///
/// Sixteen receivers at a time with the sums in registers (summing whole runs bin by bin
/// through memory made each add wait for the previous bin's store); in one lane, four such
/// vectors at once, so their adds overlap.
#[inline(always)]
fn row_credit(
    coef: &[f32],
    ctx: &LearnCtx<'_>,
    r0: usize,
    s_tail: f32,
    credit: &mut [f32],
    four_lanes: bool,
) {
    let nr = credit.len();
    let nb = coef.len();
    let n4 = if four_lanes { nb - nb % 4 } else { 0 };
    // A short last chunk still loads whole vectors where the buffer allows: the lanes past
    // the run hold other neurons' bins, computed on and dropped.
    let len = ctx.bins_t.len();
    let load = |at: usize, m: usize| {
        if at + WIDTH <= len {
            Vf(ctx.bins_t[at..at + WIDTH].try_into().expect("WIDTH values"))
        } else {
            let mut v = Vf::splat(0.0);
            for (x, y) in v.0.iter_mut().zip(&ctx.bins_t[at..at + m]) {
                *x = *y;
            }
            v
        }
    };
    let vec_at = |v: &[f32], at: usize| Vf(v[at..at + WIDTH].try_into().expect("WIDTH values"));
    // A whole vector's credit from its bin sums `d`.
    let credit_at =
        |d: Vf, at: usize| (d + vec_at(ctx.ca_syn, at) * s_tail) * vec_at(ctx.r_factor, at);
    let mut q = 0;
    if !four_lanes {
        // Four vectors of receivers at once, each summed over the bins in order exactly as in
        // the loop below: one vector at a time, every add waited for the previous one. Whole
        // blocks lie inside the run, so every load is a whole vector.
        while q + 4 * WIDTH <= nr {
            let at = r0 + q;
            let mut acc = [Vf::splat(0.0); 4];
            for (k, &c) in coef.iter().enumerate() {
                let c = Vf::splat(c);
                for (j, a) in acc.iter_mut().enumerate() {
                    *a += c * vec_at(ctx.bins_t, k * ctx.n + at + j * WIDTH);
                }
            }
            for (j, &d) in acc.iter().enumerate() {
                let o = q + j * WIDTH;
                credit[o..o + WIDTH].copy_from_slice(&credit_at(d, at + j * WIDTH).0);
            }
            q += 4 * WIDTH;
        }
    }
    while q < nr {
        let m = (nr - q).min(WIDTH);
        let at = r0 + q;
        let mut acc = [Vf::splat(0.0); 4];
        let mut k = 0;
        while k < n4 {
            for (lane, a) in acc.iter_mut().enumerate() {
                *a += Vf::splat(coef[k + lane]) * load((k + lane) * ctx.n + at, m);
            }
            k += 4;
        }
        while k < nb {
            acc[0] += Vf::splat(coef[k]) * load(k * ctx.n + at, m);
            k += 1;
        }
        let d = if four_lanes {
            (acc[0] + acc[1]) + (acc[2] + acc[3])
        } else {
            acc[0]
        };
        if m == WIDTH {
            credit[q..q + WIDTH].copy_from_slice(&credit_at(d, at).0);
        } else {
            let (re, rf) = (&ctx.ca_syn[at..at + m], &ctx.r_factor[at..at + m]);
            for t in 0..m {
                credit[q + t] = (d.0[t] + s_tail * re[t]) * rf[t];
            }
        }
        q += m;
    }
}

/// Receiver-side and sender-side quantities a learning pass reads.
pub(crate) struct LearnCtx<'a> {
    pub bins: &'a SynCaBins,
    pub nb: usize,
    /// CaSyn bins of all neurons, neuron-major.
    pub ca_bins: &'a [f32],
    /// The same bins bin-major (`bins × n`), for whole-row learning of dense pathways.
    pub bins_t: &'a [f32],
    /// Number of neurons (row length of `bins_t`).
    pub n: usize,
    /// Final CaSyn of all neurons.
    pub ca_syn: &'a [f32],
    /// Hidden rule: `(LearnCaP − LearnCaD) · RLRate` per neuron; target rule: RLRate.
    pub r_factor: &'a [f32],
    /// CT context rule: `LearnCaP − LearnCaD` per neuron.
    pub r_err: &'a [f32],
    /// Previous burst of all neurons (CT context credit).
    pub burst_prv: &'a [f32],
    /// Per-sender activity flag: no CaSyn in this cycle means no credit anywhere in its row.
    pub active: &'a [bool],
    /// Receiver layer learns with the target rule.
    pub target: bool,
    /// Target rule on the receiver's activity error (`PulvParams::act_error`, already in
    /// `r_err`) credited to each sender's mean spike calcium over the minus phase.
    pub act_error: bool,
    /// Bins of the minus phase (the first ones of the cycle).
    pub minus_bins: usize,
}

impl Path {
    /// Builds the synapses between two layers of the given shapes.
    pub fn build(
        spec: PathSpec,
        send: usize,
        recv: usize,
        s_shape: Shape,
        r_shape: Shape,
        r_start: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let (ns, nr) = (s_shape.len(), r_shape.len());
        let mismatch = |what: &str| BrainError::InvalidParam {
            field: format!("paths ({} → {}).pattern", spec.from, spec.to),
            value: format!("{:?}", spec.pattern),
            reason: what.to_string(),
        };
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); ns];
        match &spec.pattern {
            Pattern::Full => {
                for row in rows.iter_mut() {
                    row.extend((0..nr as u32).map(|r| r + r_start as u32));
                }
            }
            Pattern::OneToOne => {
                if ns != nr {
                    return Err(mismatch("OneToOne needs layers of equal size"));
                }
                for (s, row) in rows.iter_mut().enumerate() {
                    row.push((s + r_start) as u32);
                }
            }
            Pattern::PoolOneToOne => {
                if s_shape.pools() != r_shape.pools() {
                    return Err(mismatch("PoolOneToOne needs equal pool counts"));
                }
                let (sp, rp) = (s_shape.pool_size(), r_shape.pool_size());
                for (s, row) in rows.iter_mut().enumerate() {
                    let pool = s / sp;
                    row.extend((0..rp).map(|u| (r_start + pool * rp + u) as u32));
                }
            }
            Pattern::Random { p } => {
                for row in rows.iter_mut() {
                    for r in 0..nr {
                        if rng.random::<f32>() < *p {
                            row.push((r + r_start) as u32);
                        }
                    }
                }
            }
            Pattern::Window {
                rows: wr,
                cols: wc,
                channel_width: cw,
            } => {
                if s_shape != r_shape || *cw == 0 || !s_shape.units_x.is_multiple_of(*cw) {
                    return Err(mismatch(
                        "Window needs layers of one shape whose pool width is a multiple of channel_width",
                    ));
                }
                let sh = s_shape;
                // (channel, image row, image column) of every unit.
                let pos = |i: usize| {
                    let (pool, u) = (i / sh.pool_size(), i % sh.pool_size());
                    let (py, px) = (pool / sh.pools_x, pool % sh.pools_x);
                    let (uy, ux) = (u / sh.units_x, u % sh.units_x);
                    (ux / cw, py * sh.units_y + uy, px * cw + ux % cw)
                };
                let all: Vec<_> = (0..ns).map(pos).collect();
                for (s, row) in rows.iter_mut().enumerate() {
                    let (c, y, x) = all[s];
                    for (r, &(rc, ry, rx)) in all.iter().enumerate() {
                        if rc == c && ry.abs_diff(y) <= *wr && rx.abs_diff(x) <= *wc {
                            row.push((r + r_start) as u32);
                        }
                    }
                }
            }
            Pattern::PoolTile { radius } => {
                let sp = s_shape.pool_size();
                let rp = r_shape.pool_size();
                let rad = *radius as isize;
                for ry in 0..r_shape.pools_y {
                    for rx in 0..r_shape.pools_x {
                        // Centre of this receiver pool on the sender pool grid.
                        let cy = (ry * s_shape.pools_y) / r_shape.pools_y;
                        let cx = (rx * s_shape.pools_x) / r_shape.pools_x;
                        let rpool = ry * r_shape.pools_x + rx;
                        for dy in -rad..=rad {
                            for dx in -rad..=rad {
                                let (sy, sx) = (cy as isize + dy, cx as isize + dx);
                                if sy < 0
                                    || sx < 0
                                    || sy >= s_shape.pools_y as isize
                                    || sx >= s_shape.pools_x as isize
                                {
                                    continue;
                                }
                                let spool = sy as usize * s_shape.pools_x + sx as usize;
                                for su in 0..sp {
                                    let row = &mut rows[spool * sp + su];
                                    row.extend((0..rp).map(|u| (r_start + rpool * rp + u) as u32));
                                }
                            }
                        }
                    }
                }
                for row in rows.iter_mut() {
                    row.sort_unstable();
                }
            }
        }
        let total: usize = rows.iter().map(Vec::len).sum();
        let mut offs = Vec::with_capacity(ns + 1);
        let mut ridx = Vec::with_capacity(total);
        offs.push(0u32);
        for row in &rows {
            ridx.extend_from_slice(row);
            offs.push(ridx.len() as u32);
        }
        let mut wt = Vec::with_capacity(total);
        let mut lwt = Vec::with_capacity(total);
        let mut swt = Vec::with_capacity(total);
        for (si, row) in rows.iter().enumerate() {
            for &r in row {
                // Drawn for every synapse, so the others get the weights they would without.
                let drawn = spec.swt.init(rng);
                let (w, s, l) = match spec.centre_init {
                    Some(c) if r as usize - r_start == si => spec.swt.fixed(c),
                    _ => drawn,
                };
                wt.push(w);
                swt.push(s);
                lwt.push(l);
            }
        }
        let dense = spec.pattern == Pattern::Full;
        Ok(Self {
            spec,
            send,
            recv,
            gscale: 1.0,
            dense,
            offs,
            ridx,
            dswt: vec![0.0; total],
            wt,
            lwt,
            swt,
            runs: Vec::new(),
            run_offs: Vec::new(),
        })
    }

    /// Finds the runs of consecutive receivers in every row (see `runs`), which spike
    /// propagation adds a vector at a time. Called when a network is built or loaded.
    pub(crate) fn index_runs(&mut self) {
        self.runs.clear();
        self.run_offs.clear();
        if self.dense {
            return;
        }
        self.run_offs.push(0);
        for s in 0..self.offs.len().saturating_sub(1) {
            let rows = &self.ridx[self.offs[s] as usize..self.offs[s + 1] as usize];
            let mut i = 0;
            while i < rows.len() {
                let j = run_end(rows, i);
                self.runs.push((rows[i], (j - i) as u32));
                i = j;
            }
            self.run_offs.push(self.runs.len() as u32);
        }
    }

    /// Number of synapses.
    pub fn len(&self) -> usize {
        self.wt.len()
    }

    /// True when the pathway has no synapses.
    pub fn is_empty(&self) -> bool {
        self.wt.is_empty()
    }

    /// Number of synapses onto each receiver of a layer of `nr` units starting at `r_start`.
    pub fn fan_in(&self, r_start: usize, nr: usize) -> Vec<u32> {
        let mut c = vec![0u32; nr];
        for &r in &self.ridx {
            c[r as usize - r_start] += 1;
        }
        c
    }

    /// Adds `scale · Wt` of local sender `s`'s row into `buf` (indexed by global receiver).
    #[inline]
    pub fn send_row(&self, s: usize, scale: f32, buf: &mut [f32], r_start: usize) {
        let (a, b) = (self.offs[s] as usize, self.offs[s + 1] as usize);
        let w = &self.wt[a..b];
        if self.dense {
            let dst = &mut buf[r_start..r_start + w.len()];
            for (d, w) in dst.iter_mut().zip(w) {
                *d += scale * w;
            }
        } else {
            self.add_row(s, a..b, scale, buf, 0);
        }
    }

    /// Like [`Self::send_row`], into the receiving layer's own slice of the buffer.
    #[inline(always)]
    pub fn send_row_local(&self, s: usize, scale: f32, buf: &mut [f32], r_start: usize) {
        let (a, b) = (self.offs[s] as usize, self.offs[s + 1] as usize);
        let w = &self.wt[a..b];
        if self.dense {
            for (d, w) in buf[..w.len()].iter_mut().zip(w) {
                *d += scale * w;
            }
        } else {
            self.add_row(s, a..b, scale, buf, r_start);
        }
    }

    /// `buf[r − offset] += scale · Wt` over row `s` (synapses `syn`) of an indexed pathway.
    #[inline(always)]
    fn add_row(
        &self,
        s: usize,
        syn: std::ops::Range<usize>,
        scale: f32,
        buf: &mut [f32],
        offset: usize,
    ) {
        let w = &self.wt[syn.clone()];
        let Some(runs) = row_runs(&self.runs, &self.run_offs, &self.offs, s) else {
            return add_runs(&self.ridx[syn], w, scale, buf, offset);
        };
        let mut pos = 0;
        for &(r0, len) in runs {
            let (r0, len) = (r0 as usize - offset, len as usize);
            for (d, w) in buf[r0..r0 + len].iter_mut().zip(&w[pos..pos + len]) {
                *d += scale * w;
            }
            pos += len;
        }
    }

    /// One learning step on every synapse (weight change, soft bound, new effective weight);
    /// rows of inactive senders are skipped, as the rule gives them zero. Rows are split across
    /// threads; each synapse is written by exactly one thread in a fixed order, so the result
    /// does not depend on the thread count.
    pub(crate) fn learn(&mut self, s_start: usize, sched: f32, ctx: &LearnCtx<'_>) {
        let lrate = self.spec.lrate * sched;
        if !self.spec.learn || lrate == 0.0 {
            return;
        }
        let ctxt = self.spec.kind == PathKind::CtCtxt;
        let ns = self.offs.len() - 1;
        // Chunks of whole rows, about 64k synapses each.
        let mut bounds = vec![0usize];
        let mut acc = 0usize;
        for s in 0..ns {
            acc += (self.offs[s + 1] - self.offs[s]) as usize;
            if acc >= 65_536 {
                bounds.push(s + 1);
                acc = 0;
            }
        }
        if *bounds.last().unwrap_or(&0) != ns {
            bounds.push(ns);
        }
        let offs = &self.offs;
        let ridx = &self.ridx;
        let dense = self.dense;
        let mut jobs = Vec::with_capacity(bounds.len());
        let (mut wt, mut lwt, mut swt, mut dswt) = (
            &mut self.wt[..],
            &mut self.lwt[..],
            &mut self.swt[..],
            &mut self.dswt[..],
        );
        for w in bounds.windows(2) {
            let len = (offs[w[1]] - offs[w[0]]) as usize;
            let (a, b) = wt.split_at_mut(len);
            let (c, d) = lwt.split_at_mut(len);
            let (e, f) = swt.split_at_mut(len);
            let (g, h) = dswt.split_at_mut(len);
            jobs.push((w[0], w[1], a, c, e, g));
            wt = b;
            lwt = d;
            swt = f;
            dswt = h;
        }
        // Per-bin weights of the rule: credit (hidden) or CaP − CaD regression (target).
        let wb: Vec<f32> = if ctx.target {
            ctx.bins
                .wp
                .iter()
                .zip(&ctx.bins.wd)
                .map(|(p, d)| p - d)
                .collect()
        } else {
            ctx.bins.wc.clone()
        };
        let w_tail = if ctx.target { 0.0 } else { ctx.bins.w_tail };
        let rows = RowJob {
            offs,
            ridx,
            runs: &self.runs,
            run_offs: &self.run_offs,
            dense,
            ctxt,
            lrate,
            s_start,
            wb: &wb,
            w_tail,
            ctx,
        };
        jobs.into_par_iter()
            .for_each(|(s0, s1, wt, lwt, swt, dswt)| rows.run(s0, s1, wt, lwt, swt, dswt));
    }

    /// Slow adaptation of the structural weights toward the accumulated changes, zero-sum per
    /// receiver, keeping each effective weight where it was (Axon `SWtFromWt`).
    pub(crate) fn slow_adapt(&mut self, n_neurons: usize) {
        if !self.spec.learn || self.spec.swt.adapt_lrate == 0.0 || self.is_empty() {
            self.dswt.fill(0.0);
            return;
        }
        let p = &self.spec.swt;
        let mut sum = vec![0.0f32; n_neurons];
        let mut cnt = vec![0u32; n_neurons];
        for (k, &r) in self.ridx.iter().enumerate() {
            let d = self.dswt[k];
            // Soft-bound the accumulated change toward the SWt limits.
            let d = if d >= 0.0 {
                d * (p.hi - self.swt[k])
            } else {
                d * (self.swt[k] - p.lo)
            };
            self.dswt[k] = d;
            sum[r as usize] += d;
            cnt[r as usize] += 1;
        }
        let mut mean = sum;
        for (m, &c) in mean.iter_mut().zip(&cnt) {
            if c > 0 {
                *m /= c as f32;
            }
        }
        // The gather on its own: indexed, the loop below would not vectorise.
        for (d, &r) in self.dswt.iter_mut().zip(&self.ridx) {
            *d -= mean[r as usize];
        }
        let job = SwtJob { p };
        let (swt, lwt, wt) = (&mut self.swt[..], &mut self.lwt[..], &mut self.wt[..]);
        job.run(swt, lwt, wt, &mut self.dswt);
    }

    /// Homeostatic synaptic scaling: each synapse's linear weight moves by its receiver's
    /// factor in `scale` (indexed by global neuron), soft-bounded (up toward 1 in proportion to
    /// `1 − LWt`, down in proportion to LWt) and weighted by SWt; the effective weight follows.
    pub(crate) fn scale_weights(&mut self, scale: &[f32]) {
        // The gather on its own, so that the update below vectorises.
        let a: Vec<f32> = self.ridx.iter().map(|&r| scale[r as usize]).collect();
        ScaleJob.run(&a, &self.swt, &mut self.lwt, &mut self.wt);
    }
}

/// Synaptic scaling of [`Path::scale_weights`]: each synapse's linear weight moves by its
/// receiver's factor `a` (gathered into `a` beforehand), soft-bounded, and the effective weight
/// follows; a synapse whose factor is 0 keeps both exactly.
struct ScaleJob;

impl ScaleJob {
    widest_vectors! {
        /// Runs with the widest vector instructions available; all builds give identical
        /// results.
        fn run(&self, a: &[f32], swt: &[f32], lwt: &mut [f32], wt: &mut [f32])
            = run_generic, run_avx512, run_avx2;
    }

    /// A plain branch-free loop ([`wt_from`] included), so that it vectorises: with the gather
    /// and a branch inside, it ran one synapse at a time.
    #[inline(always)]
    fn run_generic(&self, a: &[f32], swt: &[f32], lwt: &mut [f32], wt: &mut [f32]) {
        let n = a.len();
        let (swt, lwt, wt) = (&swt[..n], &mut lwt[..n], &mut wt[..n]);
        for k in 0..n {
            let (a, l, s) = (a[k], lwt[k], swt[k]);
            let nl = (l + if a >= 0.0 { 1.0 - l } else { l } * a * s).clamp(0.0, 1.0);
            let nw = wt_from(s, nl);
            let keep = a == 0.0;
            lwt[k] = if keep { l } else { nl };
            wt[k] = if keep { wt[k] } else { nw };
        }
    }
}

/// The SWt step of [`Path::slow_adapt`] on every synapse, given each synapse's accumulated
/// change less its receiver's mean (in `dswt`): the structural weight moves by it, and the
/// linear weight is re-derived so that the effective weight stays put.
struct SwtJob<'a> {
    p: &'a SwtParams,
}

impl SwtJob<'_> {
    widest_vectors! {
        /// Runs with the widest vector instructions available; all builds give identical
        /// results.
        fn run(&self, swt: &mut [f32], lwt: &mut [f32], wt: &mut [f32], dswt: &mut [f32])
            = run_generic, run_avx512, run_avx2;
    }

    /// A plain loop, branch-free ([`lwt_from`] and [`wt_from`] included) so that it
    /// vectorises: the scalar `powf` it used to call took a tenth of the agent brain's time.
    #[inline(always)]
    fn run_generic(&self, swt: &mut [f32], lwt: &mut [f32], wt: &mut [f32], dswt: &mut [f32]) {
        let p = self.p;
        let n = dswt.len();
        let (swt, lwt, wt) = (&mut swt[..n], &mut lwt[..n], &mut wt[..n]);
        for k in 0..n {
            let s = (swt[k] + p.adapt_lrate * dswt[k]).clamp(p.lo, p.hi);
            swt[k] = s;
            let l = lwt_from(wt[k], s);
            lwt[k] = l;
            wt[k] = wt_from(s, l);
            dswt[k] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn one_synapse_updates_as_a_vector_lane_does() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..2000 {
            let mut v = [Vf::default(); 5];
            for x in &mut v {
                for a in &mut x.0 {
                    *a = match rng.random_range(0..8) {
                        0 => 0.0,
                        1 => 1.0,
                        _ => rng.random_range(-0.5f32..1.5),
                    };
                }
            }
            let [d, l, w, s, ds] = v;
            let lrate = rng.random_range(0.0f32..2.0);
            let (nl, nw, nds) = update_lanes(lrate, d, l, w, s, ds);
            for k in 0..WIDTH {
                let one = update_one(lrate, d.0[k], l.0[k], w.0[k], s.0[k], ds.0[k]);
                assert_eq!(one.0.to_bits(), nl.0[k].to_bits());
                assert_eq!(one.1.to_bits(), nw.0[k].to_bits());
                assert_eq!(one.2.to_bits(), nds.0[k].to_bits());
            }
        }
    }

    /// Synaptic scaling, in every build, does exactly what a plain per-synapse loop with a
    /// branch does, including leaving synapses with a zero factor untouched.
    #[test]
    fn scaling_builds_match_a_plain_loop() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = SwtParams::default();
        let n = 3 * WIDTH + 7;
        let swt: Vec<f32> = (0..n).map(|_| rng.random_range(p.lo..=p.hi)).collect();
        let mut lwt: Vec<f32> = (0..n).map(|_| rng.random_range(0.0f32..1.0)).collect();
        lwt[3] = 0.0;
        lwt[4] = 1.0;
        let wt: Vec<f32> = swt.iter().zip(&lwt).map(|(&s, &l)| wt_from(s, l)).collect();
        let a: Vec<f32> = (0..n)
            .map(|k| match k % 5 {
                0 => 0.0,
                _ => rng.random_range(-0.3f32..0.3),
            })
            .collect();
        let (mut want_l, mut want_w) = (lwt.clone(), wt.clone());
        for k in 0..n {
            if a[k] != 0.0 {
                let l = want_l[k];
                let nl =
                    (l + if a[k] >= 0.0 { 1.0 - l } else { l } * a[k] * swt[k]).clamp(0.0, 1.0);
                want_l[k] = nl;
                want_w[k] = wt_from(swt[k], nl);
            }
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_ne!(bits(&want_w), bits(&wt), "scaling moved the weights");
        type Build = fn(&ScaleJob, &[f32], &[f32], &mut [f32], &mut [f32]);
        let mut builds: Vec<(&str, Build)> =
            vec![("portable", |j, a, s, l, w| j.run_generic(a, s, l, w))];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected just above.
                #[allow(unsafe_code)]
                builds.push(("avx2", |j, a, s, l, w| unsafe { j.run_avx2(a, s, l, w) }));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F was detected just above.
                #[allow(unsafe_code)]
                builds.push(("avx512f", |j, a, s, l, w| unsafe {
                    j.run_avx512(a, s, l, w)
                }));
            }
        }
        for (name, run) in builds {
            let (mut l, mut w) = (lwt.clone(), wt.clone());
            run(&ScaleJob, &a, &swt, &mut l, &mut w);
            assert_eq!(bits(&l), bits(&want_l), "{name}: LWt");
            assert_eq!(bits(&w), bits(&want_w), "{name}: Wt");
        }
    }

    /// The SWt step's AVX2 and AVX-512 builds compute exactly what the portable build does.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn swt_builds_are_bit_identical() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let p = SwtParams::default();
        let n = 3 * WIDTH + 7;
        let mut swt: Vec<f32> = (0..n).map(|_| rng.random_range(p.lo..=p.hi)).collect();
        swt[0] = p.lo;
        swt[1] = p.hi;
        let mut wt: Vec<f32> = (0..n).map(|_| rng.random_range(0.0f32..1.0)).collect();
        wt[2] = 0.0;
        let lwt: Vec<f32> = (0..n).map(|_| rng.random_range(0.0f32..1.0)).collect();
        let dswt: Vec<f32> = (0..n).map(|_| rng.random_range(-0.5f32..0.5)).collect();
        let job = SwtJob { p: &p };
        let mut want = (swt.clone(), lwt.clone(), wt.clone(), dswt.clone());
        job.run_generic(&mut want.0, &mut want.1, &mut want.2, &mut want.3);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_ne!(bits(&want.0), bits(&swt), "the step moved SWt");
        let input = (swt.clone(), lwt.clone(), wt.clone(), dswt.clone());
        let mut builds = Vec::new();
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut x = input.clone();
            // SAFETY: AVX2 was detected just above.
            #[allow(unsafe_code)]
            unsafe {
                job.run_avx2(&mut x.0, &mut x.1, &mut x.2, &mut x.3)
            };
            builds.push(("avx2", x));
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            let mut x = input;
            // SAFETY: AVX-512F was detected just above.
            #[allow(unsafe_code)]
            unsafe {
                job.run_avx512(&mut x.0, &mut x.1, &mut x.2, &mut x.3)
            };
            builds.push(("avx512f", x));
        }
        for (feature, (s, l, w, d)) in &builds {
            for (got, want) in [(s, &want.0), (l, &want.1), (w, &want.2), (d, &want.3)] {
                assert_eq!(bits(got), bits(want), "{feature}");
            }
        }
        assert!(
            want.0
                .iter()
                .chain(&want.1)
                .chain(&want.2)
                .all(|x| x.is_finite())
        );
    }

    /// `row_credit` sums each synapse's bins in the documented order (four lanes or one), for
    /// runs of every length from one receiver to several blocks of four vectors, ending
    /// anywhere in the buffer (the last neuron included, where whole-vector loads do not fit).
    #[test]
    fn row_credit_matches_a_synapse_by_synapse_sum() {
        use crate::brain::kinase::CaParams;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (n, nb) = (150, 20);
        let bins = SynCaBins::fit(150, 50, 10, &CaParams::default());
        let bins_t: Vec<f32> = (0..n * nb)
            .map(|_| match rng.random_range(0..4) {
                0 => 0.0,
                _ => rng.random_range(0.0f32..2.0),
            })
            .collect();
        let ca_syn: Vec<f32> = (0..n).map(|_| rng.random_range(0.0f32..1.0)).collect();
        let r_factor: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let ctx = LearnCtx {
            bins: &bins,
            nb,
            ca_bins: &[],
            bins_t: &bins_t,
            n,
            ca_syn: &ca_syn,
            r_factor: &r_factor,
            r_err: &[],
            burst_prv: &[],
            active: &[],
            target: false,
            act_error: false,
            minus_bins: 1,
        };
        let mut coef: Vec<f32> = (0..nb).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        coef[3] = 0.0;
        let s_tail = 0.3;
        for four_lanes in [false, true] {
            for (r0, nr) in [
                (0, 1),
                (2, 25),
                (5, 16),
                (9, 33),
                (n - 7, 7),
                (n - 1, 1),
                (3, 131),
                (n - 64, 64),
                (n - 65, 65),
                (0, n),
            ] {
                let mut got = vec![f32::NAN; nr];
                row_credit(&coef, &ctx, r0, s_tail, &mut got, four_lanes);
                for (q, g) in got.iter().enumerate() {
                    let r = r0 + q;
                    let mut lanes = [0.0f32; 4];
                    let n4 = if four_lanes { nb - nb % 4 } else { 0 };
                    for (k, &c) in coef.iter().enumerate() {
                        let lane = if k < n4 { k % 4 } else { 0 };
                        lanes[lane] += c * bins_t[k * n + r];
                    }
                    let d = if four_lanes {
                        (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
                    } else {
                        lanes[0]
                    };
                    let want = (d + s_tail * ca_syn[r]) * r_factor[r];
                    assert_eq!(g.to_bits(), want.to_bits(), "r0 {r0} nr {nr} q {q}");
                }
            }
        }
    }

    /// The activity-error rule credits the senders of the minus phase: a sender that fires
    /// only in the plus phase (as an input layer showing the outcome does) keeps its weights,
    /// where the synaptic target rule strengthens them; a minus-phase sender's weights follow
    /// the sign of each receiver's error.
    #[test]
    fn activity_error_credits_the_minus_phase_senders() {
        use crate::brain::kinase::CaParams;
        let (minus, plus, bin) = (150, 50, 10);
        let bins = SynCaBins::fit(minus, plus, bin, &CaParams::default());
        let nb = (minus + plus) / bin;
        let minus_bins = minus / bin;
        // Neuron 0 fires in the minus phase, 1 in the plus phase; receivers 2 and 3 throughout.
        let n = 4;
        let mut ca_bins = vec![0.0f32; n * nb];
        for k in 0..nb {
            ca_bins[k] = if k < minus_bins { 0.5 } else { 0.0 };
            ca_bins[nb + k] = if k < minus_bins { 0.0 } else { 0.5 };
            ca_bins[2 * nb + k] = 0.5;
            ca_bins[3 * nb + k] = 0.5;
        }
        let mut bins_t = vec![0.0f32; n * nb];
        for i in 0..n {
            for k in 0..nb {
                bins_t[k * n + i] = ca_bins[i * nb + k];
            }
        }
        let ca_syn = vec![0.0f32; n];
        let r_factor = vec![1.0f32; n];
        let r_err = vec![0.0, 0.0, 0.5, -0.5];
        let active = vec![true; n];
        let learned = |act_error: bool| {
            let spec = PathSpec::new("S", "R", PathKind::Forward, Pattern::Full).lrate(0.1);
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let mut p =
                Path::build(spec, 0, 1, Shape::d2(1, 2), Shape::d2(1, 2), 2, &mut rng).unwrap();
            let before = p.wt.clone();
            let ctx = LearnCtx {
                bins: &bins,
                nb,
                ca_bins: &ca_bins,
                bins_t: &bins_t,
                n,
                ca_syn: &ca_syn,
                r_factor: &r_factor,
                r_err: &r_err,
                burst_prv: &[],
                active: &active,
                target: true,
                act_error,
                minus_bins,
            };
            p.learn(0, 1.0, &ctx);
            // Rows are senders; within a row, receivers 2 then 3.
            p.wt.iter()
                .zip(&before)
                .map(|(a, b)| a - b)
                .collect::<Vec<f32>>()
        };
        let d = learned(true);
        assert!(d[0] > 0.0 && d[1] < 0.0, "minus-phase sender: {d:?}");
        assert_eq!((d[2], d[3]), (0.0, 0.0), "plus-only sender: {d:?}");
        let d = learned(false);
        assert!(
            d[2] > 0.0 && d[3] > 0.0,
            "synaptic rule, plus-only sender: {d:?}"
        );
    }

    /// Row adds, through indexed runs or runs found on the way, equal a synapse-by-synapse loop.
    #[test]
    fn row_adds_match_a_synapse_loop() {
        let shape = Shape::d4(3, 3, 2, 2);
        let r_start = 5;
        let naive = |p: &Path, s: usize| {
            let mut b = vec![0.5f32; r_start + shape.len()];
            for i in p.offs[s] as usize..p.offs[s + 1] as usize {
                b[p.ridx[i] as usize] += 0.7 * p.wt[i];
            }
            b
        };
        for pattern in [
            Pattern::PoolTile { radius: 1 },
            Pattern::Random { p: 0.3 },
            Pattern::OneToOne,
            Pattern::Window {
                rows: 1,
                cols: 1,
                channel_width: 1,
            },
        ] {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let spec = PathSpec::new("a", "b", PathKind::Forward, pattern.clone());
            let mut p = Path::build(spec, 0, 1, shape, shape, r_start, &mut rng).unwrap();
            for indexed in [false, true] {
                if indexed {
                    p.index_runs();
                    let synapses: u32 = p.runs.iter().map(|r| r.1).sum();
                    assert_eq!(synapses as usize, p.len(), "{pattern:?}");
                }
                for s in 0..shape.len() {
                    let want = naive(&p, s);
                    let mut b = vec![0.5f32; r_start + shape.len()];
                    p.send_row(s, 0.7, &mut b, r_start);
                    assert_eq!(b, want, "{pattern:?}, indexed {indexed}");
                    let mut l = vec![0.5f32; shape.len()];
                    p.send_row_local(s, 0.7, &mut l, r_start);
                    assert_eq!(l[..], want[r_start..], "{pattern:?}, indexed {indexed}");
                }
            }
        }
        // Topographic rows are pools of consecutive receivers: a few runs per row.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let spec = PathSpec::new("a", "b", PathKind::Forward, Pattern::PoolTile { radius: 1 });
        let mut p = Path::build(spec, 0, 1, shape, shape, r_start, &mut rng).unwrap();
        p.index_runs();
        assert!(p.runs.len() * 4 <= p.len(), "{} runs", p.runs.len());
    }

    /// A window connects each pixel to the pixels of its own channel within reach, across
    /// pool (tile) borders, and nothing else.
    #[test]
    fn window_reaches_pixels_of_the_same_channel_across_tiles() {
        // A 4 × 6 image of two channels in 2 × 2 tiles of 2 × 3 pixels: each pool holds
        // 2 rows of 2 × 3 units (channel 0's three columns, then channel 1's).
        let shape = Shape::d4(2, 2, 2, 6);
        let pattern = Pattern::Window {
            rows: 1,
            cols: 2,
            channel_width: 3,
        };
        let spec = PathSpec::new("a", "b", PathKind::Forward, pattern);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let p = Path::build(spec, 0, 1, shape, shape, 0, &mut rng).unwrap();
        // Unit index of (channel, image row, image column).
        let unit = |c: usize, y: usize, x: usize| {
            let pool = (y / 2) * 2 + x / 3;
            pool * 12 + (y % 2) * 6 + c * 3 + x % 3
        };
        let row = |s: usize| &p.ridx[p.offs[s] as usize..p.offs[s + 1] as usize];
        // Channel 1, row 1, column 2 (a tile's right edge) reaches rows 0–2, columns 0–4.
        let mut want: Vec<u32> = (0..=2)
            .flat_map(|y| (0..=4).map(move |x| unit(1, y, x) as u32))
            .collect();
        want.sort_unstable();
        let mut got = row(unit(1, 1, 2)).to_vec();
        got.sort_unstable();
        assert_eq!(got, want);
        // A corner reaches 2 rows × 3 columns, and a pixel only its own channel.
        assert_eq!(row(unit(0, 3, 5)).len(), 6);
        assert!(row(unit(0, 0, 0)).iter().all(|&r| r as usize % 6 < 3));
        let bad = Pattern::Window {
            rows: 1,
            cols: 1,
            channel_width: 4,
        };
        let spec = PathSpec::new("a", "b", PathKind::Forward, bad);
        assert!(Path::build(spec, 0, 1, shape, shape, 0, &mut rng).is_err());
    }

    #[test]
    fn centre_init_sets_the_own_pixel_synapses_and_leaves_the_rest_as_drawn() {
        let shape = Shape::d2(4, 6);
        let window = Pattern::Window {
            rows: 1,
            cols: 2,
            channel_width: 6,
        };
        // The receiver layer starts at unit 30, as in a network.
        let build = |centre: Option<f32>| {
            let mut spec =
                PathSpec::new("a", "b", PathKind::Forward, window.clone()).init(0.1, 0.05);
            spec.centre_init = centre;
            spec.validate(0).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(5);
            Path::build(spec, 0, 1, shape, shape, 30, &mut rng).unwrap()
        };
        let (plain, centred) = (build(None), build(Some(0.5)));
        assert_eq!(plain.ridx, centred.ridx);
        let mut own = 0;
        for s in 0..shape.len() {
            for k in plain.offs[s] as usize..plain.offs[s + 1] as usize {
                if plain.ridx[k] as usize - 30 == s {
                    own += 1;
                    assert!((centred.wt[k] - 0.5).abs() < 1e-5, "{}", centred.wt[k]);
                    assert_eq!(centred.swt[k], 0.5);
                    assert!(plain.wt[k] <= 0.15 + 1e-6);
                } else {
                    assert_eq!(
                        (plain.wt[k], plain.swt[k], plain.lwt[k]),
                        (centred.wt[k], centred.swt[k], centred.lwt[k])
                    );
                }
            }
        }
        assert_eq!(own, shape.len());
        // Only a window has own-pixel synapses, and the weight must be one a synapse can hold.
        let mut full = PathSpec::new("a", "b", PathKind::Forward, Pattern::Full);
        full.centre_init = Some(0.5);
        let e = full.validate(2).unwrap_err().to_string();
        assert!(
            e.contains("paths[2] (a → b).centre_init") && e.contains("Window"),
            "{e}"
        );
        let mut high = PathSpec::new("a", "b", PathKind::Forward, window);
        high.centre_init = Some(3.0);
        assert!(high.validate(0).is_err());
    }
}
