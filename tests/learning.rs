//! End-to-end learning tests of the cortical learner.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thetabox::brain::deep::{DeepOpts, deep_predictive};
use thetabox::brain::tasks::{random_patterns, top_k};
use thetabox::brain::*;

/// Input 5×5 → Hidden 10×10 ↔ Output 5×5 (target), as Axon's ra25.
fn ra25_spec(seed: u64, minus: usize, plus: usize) -> NetworkSpec {
    let mut inp = LayerSpec::new("Input", LayerKind::Input, Shape::d2(5, 5));
    inp.neuron.clamp_ge = 1.5;
    inp.act_nominal = 0.24;
    inp.inhib.gi = 0.9;
    let mut hid = LayerSpec::new("Hidden", LayerKind::Hidden, Shape::d2(10, 10));
    hid.inhib.gi = 0.9;
    let mut out = LayerSpec::new("Output", LayerKind::Target, Shape::d2(5, 5));
    out.inhib.gi = 0.5;
    out.neuron.clamp_ge = 1.5;
    out.act_nominal = 0.24;
    // Trials are independent associations: start each from rest.
    for l in [&mut hid, &mut out] {
        l.neuron.decay.act = 1.0;
        l.neuron.decay.glong = 1.0;
    }
    let lr = 0.2;
    NetworkSpec {
        layers: vec![inp, hid, out],
        paths: vec![
            PathSpec::new("Input", "Hidden", PathKind::Forward, Pattern::Full).lrate(lr),
            PathSpec::new("Hidden", "Output", PathKind::Forward, Pattern::Full).lrate(lr),
            PathSpec::new("Output", "Hidden", PathKind::Back, Pattern::Full)
                .rel(0.3)
                .lrate(lr),
        ],
        theta: ThetaParams {
            minus_cycles: minus,
            plus_cycles: plus,
            ..Default::default()
        },
        seed,
    }
}

/// Trains the 25-pattern associator; returns the first epoch with zero errors.
fn train_ra25(seed: u64, minus: usize, plus: usize, max_epochs: usize) -> Option<usize> {
    let mut net = Network::new(ra25_spec(seed, minus, plus)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
    let ins = random_patterns(25, 25, 6, &mut rng);
    let outs = random_patterns(25, 25, 6, &mut rng);
    let (li, lo) = (
        net.layer_index("Input").unwrap(),
        net.layer_index("Output").unwrap(),
    );
    for epoch in 0..max_epochs {
        let mut errs = 0;
        for i in 0..25 {
            net.start_theta().unwrap();
            net.set_input(li, &ins[i]).unwrap();
            net.set_input(lo, &outs[i]).unwrap();
            net.run_minus().unwrap();
            let want: Vec<usize> = (0..25).filter(|&k| outs[i][k] > 0.5).collect();
            if top_k(net.prediction(lo), 6) != want {
                errs += 1;
            }
            net.run_plus().unwrap();
            net.learn().unwrap();
        }
        if errs == 0 {
            return Some(epoch);
        }
    }
    None
}

#[test]
fn random_associator_learns_to_zero_errors() {
    for seed in [0, 1] {
        let e = train_ra25(seed, 150, 50, 100);
        assert!(e.is_some(), "seed {seed}: errors remain after 100 epochs");
    }
}

#[test]
fn random_associator_learns_with_100_100_phases() {
    assert!(train_ra25(0, 100, 100, 150).is_some());
}

fn onehot(k: usize, n: usize) -> Vec<f32> {
    let mut v = vec![0.0; n];
    v[k] = 1.0;
    v
}

/// A deep predictive net on a 4-symbol cycle: it must learn to predict the next symbol.
fn train_cycle(minus: usize, plus: usize) -> (usize, f32, f32) {
    let o = DeepOpts {
        ct_gi: 1.0,
        input_ct_rel: 1.0,
        lrate: 0.03,
        theta: ThetaParams {
            minus_cycles: minus,
            plus_cycles: plus,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut net = Network::new(deep_predictive(Shape::d2(1, 7), &o)).unwrap();
    let (li, lp) = (
        net.layer_index("Input").unwrap(),
        net.layer_index("InputP").unwrap(),
    );
    let mut cur = 0;
    let (mut errs, mut tgt, mut other) = (0, 0.0, 0.0);
    for epoch in 0..8 {
        for _ in 0..40 {
            let next = (cur + 1) % 4;
            net.start_theta().unwrap();
            net.set_input(li, &onehot(cur, 7)).unwrap();
            net.run_minus().unwrap();
            let pred = net.prediction(lp).to_vec();
            if epoch == 7 {
                errs += usize::from(top_k(&pred, 1)[0] != next);
                tgt += pred[next] / 40.0;
                other += (pred.iter().sum::<f32>() - pred[next]) / (6.0 * 40.0);
            }
            net.apply_outcome(li, &onehot(next, 7)).unwrap();
            net.run_plus().unwrap();
            net.learn().unwrap();
            cur = next;
        }
    }
    (errs, tgt, other)
}

#[test]
fn deep_net_learns_to_predict_a_sequence_with_either_phase_split() {
    for (m, p) in [(150, 50), (100, 100)] {
        let (errs, tgt, other) = train_cycle(m, p);
        assert_eq!(errs, 0, "{m}/{p}: prediction errors after training");
        assert!(tgt > 4.0 * other, "{m}/{p}: target {tgt} vs others {other}");
    }
}

#[test]
fn non_finite_inputs_and_parameters_are_errors_and_leave_the_net_finite() {
    let mut net = Network::new(ra25_spec(0, 150, 50)).unwrap();
    let li = net.layer_index("Input").unwrap();
    net.start_theta().unwrap();
    let mut bad = vec![0.5f32; 25];
    bad[3] = f32::NAN;
    let e = net.set_input(li, &bad).unwrap_err();
    assert!(e.to_string().contains("index 3"), "{e}");
    bad[3] = f32::INFINITY;
    assert!(net.set_input(li, &bad).is_err());
    assert!(net.set_input(li, &[0.5; 24]).is_err(), "wrong length");
    assert!(net.set_input(li, &[-1.0; 25]).is_err(), "negative rate");
    net.set_input(li, &[0.5; 25]).unwrap();
    net.run_minus().unwrap();
    net.run_plus().unwrap();
    net.learn().unwrap();
    assert!(net.neurons.vm.iter().all(|v| v.is_finite()));
    assert!(net.paths.iter().all(|p| p.wt.iter().all(|w| w.is_finite())));

    for poison in [f32::NAN, f32::INFINITY, -5.0] {
        let mut spec = ra25_spec(0, 150, 50);
        spec.layers[1].neuron.gbar.e = poison;
        let e = Network::new(spec).unwrap_err().to_string();
        assert!(e.contains("layers.Hidden.neuron.gbar.e"), "{e}");
        let mut spec = ra25_spec(0, 150, 50);
        spec.paths[0].lrate = poison;
        assert!(Network::new(spec).is_err());
    }
}

#[test]
fn out_of_order_calls_are_errors() {
    let mut net = Network::new(ra25_spec(0, 150, 50)).unwrap();
    assert!(net.run_minus().is_err());
    net.start_theta().unwrap();
    assert!(net.run_plus().is_err());
    assert!(net.learn().is_err());
    assert!(net.layer_index("Nope").is_err());
}

/// Drives `net` for `n` theta cycles of a fixed pseudo-random stream.
fn drive(net: &mut Network, n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pats = random_patterns(8, 25, 6, &mut rng);
    let (li, lo) = (
        net.layer_index("Input").unwrap(),
        net.layer_index("Output").unwrap(),
    );
    let mut preds = Vec::new();
    for t in 0..n {
        net.start_theta().unwrap();
        net.set_input(li, &pats[t % 8]).unwrap();
        net.set_input(lo, &pats[(t + 3) % 8]).unwrap();
        net.run_minus().unwrap();
        preds.extend_from_slice(net.prediction(lo));
        net.run_plus().unwrap();
        net.learn().unwrap();
    }
    preds
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let mut a = Network::new(ra25_spec(3, 150, 50)).unwrap();
    let mut b = Network::new(ra25_spec(3, 150, 50)).unwrap();
    let mut c = Network::new(ra25_spec(4, 150, 50)).unwrap();
    drive(&mut a, 30, 9);
    drive(&mut b, 30, 9);
    drive(&mut c, 30, 9);
    assert_eq!(a.weight_digest(), b.weight_digest());
    assert_ne!(a.weight_digest(), c.weight_digest());
}

#[test]
fn save_and_load_continue_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("net.bin");
    let mut a = Network::new(ra25_spec(5, 150, 50)).unwrap();
    // Slow adaptation every 100 cycles is part of the state being carried over.
    drive(&mut a, 95, 1);
    a.save(&file).unwrap();
    let mut b = Network::load(&file).unwrap();
    let pa = drive(&mut a, 20, 2);
    let pb = drive(&mut b, 20, 2);
    assert_eq!(pa, pb, "predictions after loading differ");
    assert_eq!(a.weight_digest(), b.weight_digest());

    std::fs::write(&file, b"not a network").unwrap();
    let e = Network::load(&file).unwrap_err().to_string();
    assert!(e.contains("net.bin") && e.contains("header"), "{e}");
    assert!(Network::load(&dir.path().join("missing.bin")).is_err());
}

#[test]
fn specs_round_trip_through_ron_and_bad_fields_are_located() {
    let spec = ra25_spec(0, 150, 50);
    let text = spec.to_ron();
    assert_eq!(NetworkSpec::from_ron(&text, "x.ron").unwrap(), spec);
    let bad = text.replacen("act_nominal", "act_nominall", 1);
    let e = NetworkSpec::from_ron(&bad, "bad.ron")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("bad.ron:") && e.contains("act_nominall"),
        "{e}"
    );
    let range = text.replacen("clamp_ge: 1.5", "clamp_ge: -1.5", 1);
    let e = NetworkSpec::from_ron(&range, "r.ron")
        .unwrap_err()
        .to_string();
    assert!(e.contains("clamp_ge"), "{e}");
}
