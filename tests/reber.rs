//! The deep predictive network (Input → Super/CT → InputP, as in deep_fsa) on the Reber grammar.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thetabox::brain::deep::{DeepOpts, deep_predictive};
use thetabox::brain::tasks::{reber_sequence, top_k};
use thetabox::brain::{Network, Shape};

/// Per-epoch errors (top-1 and strict) of `epochs` epochs of 25 strings, stopping after two
/// consecutive error-free epochs.
fn train(seed: u64, epochs: usize) -> Vec<(usize, usize, usize)> {
    let o = DeepOpts {
        input_nominal: 1.0 / 7.0,
        seed,
        ..Default::default()
    };
    let mut net = Network::new(deep_predictive(Shape::d2(1, 7), &o)).unwrap();
    let (li, lp) = (
        net.layer_index("Input").unwrap(),
        net.layer_index("InputP").unwrap(),
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1000);
    let onehot = |k: usize| {
        let mut v = vec![0.0f32; 7];
        v[k] = 1.0;
        v
    };
    let mut out = Vec::new();
    for _ in 0..epochs {
        let (mut errs, mut strict, mut n) = (0, 0, 0);
        for _ in 0..25 {
            let seq = reber_sequence(&mut rng);
            for w in seq.windows(2) {
                net.start_theta().unwrap();
                net.set_input(li, &onehot(w[0].0)).unwrap();
                net.run_minus().unwrap();
                let pred = net.prediction(lp);
                // Correct: the most active pulvinar unit is a valid successor.
                errs += usize::from(!w[0].1.contains(&top_k(pred, 1)[0]));
                // Strict: every unit above 0.5 of the most active one is a valid successor.
                let mx = pred.iter().copied().fold(0.0, f32::max);
                strict += usize::from(
                    pred.iter()
                        .enumerate()
                        .any(|(k, &a)| a > 0.5 * mx && !w[0].1.contains(&k)),
                );
                n += 1;
                net.apply_outcome(li, &onehot(w[1].0)).unwrap();
                net.run_plus().unwrap();
                net.learn().unwrap();
            }
        }
        out.push((errs, strict, n));
        let k = out.len();
        if k >= 2 && out[k - 1].0 == 0 && out[k - 2].0 == 0 {
            break;
        }
    }
    out
}

/// The best predictor that sees only the current symbol errs on 36 % of trials; chance is ~71 %.
/// Beating 25 % needs the context the CT layers carry.
#[test]
fn deep_net_uses_context_beyond_first_order_statistics() {
    let curve = train(0, 40);
    let tail = &curve[curve.len().saturating_sub(10)..];
    let (e, n) = tail.iter().fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.2));
    let rate = e as f64 / n as f64;
    assert!(
        rate < 0.25,
        "error rate over the last 10 epochs {rate:.3}: {curve:?}"
    );
}

/// Issue #2's acceptance criterion: zero errors for 2 consecutive epochs of 25 strings within
/// 40 epochs, for at least 4 of 5 seeds. Not met yet: the network reaches 1–3 errors per epoch
/// (of ~170 trials) around epochs 17–25 and then fluctuates at 2–10 %, failing on transitions
/// that need the symbol before the current one (e.g. T after B vs after T). Run with
/// `cargo test --release --test reber -- --ignored`.
#[test]
#[ignore = "issue #2 acceptance criterion not met yet (see doc comment)"]
fn reber_grammar_to_zero_errors_for_4_of_5_seeds() {
    let mut reached = Vec::new();
    for seed in 0..5 {
        let curve = train(seed, 40);
        let k = curve.len();
        if k >= 2 && curve[k - 1].0 == 0 && curve[k - 2].0 == 0 {
            reached.push(k);
        }
    }
    reached.sort_unstable();
    assert!(reached.len() >= 4, "seeds reaching criterion: {reached:?}");
}
