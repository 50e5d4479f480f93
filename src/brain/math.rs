//! Small numeric helpers shared by the neuron, learning and metrics code.

/// Mean squared difference over the common length, accumulated in f64 (0 for empty slices).
pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()).max(1) as f64;
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        / n
}

/// `e^x` to within 1e-6 relative error for |x| ≤ 20 (1e-5 up to |x| = 87, where rounding
/// `x·log2 e` to f32 dominates), branch-free so that loops over it vectorise.
///
/// Splits `x·log2(e)` into an integer `n` and a remainder in [−0.5, 0.5], evaluates 2^r with a
/// degree-6 polynomial and scales by 2^n through the exponent bits. Adding 1.5·2^23 rounds to an
/// integer and leaves it in the low mantissa bits, so `n` comes from an integer subtraction of
/// bit patterns: no float→int conversion (whose saturating semantics defeat vectorisation) and no
/// SSE4.1 `round`. Inputs are clamped to [−87, 88].
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2^23
    let t = x.clamp(-87.0, 88.0) * LOG2E;
    let tm = t + MAGIC;
    let n = tm - MAGIC;
    let ni = (tm.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let r = (t - n) * std::f32::consts::LN_2;
    // Taylor series of e^r, |r| ≤ 0.347.
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let bits = ((ni + 127) << 23) as u32;
    f32::from_bits(bits) * p
}

/// The sigmoidal contrast enhancement of the linear weight: `1 / (1 + ((1−w)/w)^6)`.
#[inline(always)]
pub fn sig6(w: f32) -> f32 {
    if w <= 0.0 {
        return 0.0;
    }
    if w >= 1.0 {
        return 1.0;
    }
    let r = (1.0 - w) / w;
    let r2 = r * r;
    1.0 / (1.0 + r2 * r2 * r2)
}

/// Inverse of [`sig6`]: the linear weight whose sigmoid is `s`.
///
/// Branch-free and without calls, so loops over it vectorise (SWt adaptation runs it on every
/// synapse): the sixth root is a square root and then a cube root by Newton's method, in f64
/// (near s = 1 the ratio (1−s)/s cancels badly in f32). Equal to the `powf(1/6)` form it
/// replaced for all but 9 of the 1,065,353,215 f32 values in (0, 1), which differ by one ulp.
#[inline(always)]
pub fn sig6_inv(s: f32) -> f32 {
    let x = (s as f64).clamp(f64::MIN_POSITIVE, 1.0);
    let t = ((1.0 - x) / x).sqrt();
    // Cube root of t: exponent divided by three as a first guess (within ~6 %), then four
    // Newton steps, each squaring the relative error, to well below an f64 ulp.
    // The guess works on the high 32 bits: a 64-bit division has no vector instruction.
    let hi = (t.to_bits() >> 32) as u32;
    let mut y = f64::from_bits(u64::from(hi / 3 + 0x2A9F_7893) << 32);
    for _ in 0..4 {
        y = (2.0 * y + t / (y * y)) * (1.0 / 3.0);
    }
    let w = (1.0 / (1.0 + y)) as f32;
    if s <= 0.0 {
        0.0
    } else if s >= 1.0 {
        1.0
    } else {
        w
    }
}

/// The former `powf` form of [`sig6_inv`], as the reference it is tested against.
#[cfg(test)]
fn sig6_inv_powf(s: f32) -> f32 {
    if s <= 0.0 {
        return 0.0;
    }
    if s >= 1.0 {
        return 1.0;
    }
    let s = s as f64;
    (1.0 / (1.0 + ((1.0 - s) / s).powf(1.0 / 6.0))) as f32
}

/// Mean and standard error of the mean.
pub fn mean_sem(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let m = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (m, 0.0);
    }
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_std() {
        let mut x = -80.0f32;
        while x < 80.0 {
            let (a, b) = (fast_exp(x), x.exp());
            let tol = if x.abs() <= 20.0 { 1e-6 } else { 1e-5 };
            assert!(((a - b) / b).abs() < tol, "exp({x}) = {a} vs {b}");
            x += 0.0137;
        }
        assert_eq!(fast_exp(-1000.0), fast_exp(-87.0));
        assert!(fast_exp(1000.0).is_finite());
    }

    #[test]
    fn sig6_inverse_round_trips() {
        // Outside [0.15, 0.85] Sig is within a few f32 ulps of 0 or 1, so the inverse can only
        // recover w to ~1e-3 there.
        for i in 15..=85 {
            let w = i as f32 / 100.0;
            assert!((sig6_inv(sig6(w)) - w).abs() < 2e-4, "{w}");
        }
        assert_eq!(sig6(0.5), 0.5);
    }

    #[test]
    fn sig6_inv_matches_the_powf_form() {
        // Every 61st f32 in (0, 1), the ends and specials.
        let (mut n, mut differ) = (0u64, 0u64);
        let mut bits = 1u32;
        while bits < 1.0f32.to_bits() {
            let s = f32::from_bits(bits);
            let (a, b) = (sig6_inv(s), sig6_inv_powf(s));
            assert!(a.to_bits().abs_diff(b.to_bits()) <= 1, "{s}: {a} vs {b}");
            differ += u64::from(a != b);
            n += 1;
            bits += 61;
        }
        assert!(differ * 100_000 < n, "{differ} of {n} differ");
        for s in [
            0.0,
            -0.0,
            -1.0,
            1.0,
            2.0,
            f32::MIN_POSITIVE,
            1.0 - f32::EPSILON / 2.0,
        ] {
            assert_eq!(sig6_inv(s), sig6_inv_powf(s), "{s}");
        }
    }

    #[test]
    fn mean_sem_known_values() {
        let (m, s) = mean_sem(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12);
        assert!((s - (1.666_666_7f64 / 4.0).sqrt()).abs() < 1e-6);
    }
}
