//! Acceptance on the built-in `look_around` scenario: after training, the brain's prediction
//! depends on the action it is told it will take.

use bevy::prelude::*;
use thetabox::scenario::{self, Action};
use thetabox::sim::body::{Agent, Motor};
use thetabox::sim::brain::Brain;
use thetabox::sim::metrics::mse;
use thetabox::sim::retina::Eye;
use thetabox::sim::runner::{headless_app, run_cycles};
use thetabox::sim::{ThetaSystems, cycle_start};

/// The prediction made with the opposite turn, for the cycle under way.
#[derive(Resource, Default)]
struct Wrong(Option<(Action, Vec<f32>)>);

#[derive(Resource)]
struct Evaluate(bool);

fn opposite(a: Action) -> Action {
    match a {
        Action::TurnLeft => Action::TurnRight,
        Action::TurnRight => Action::TurnLeft,
        other => other,
    }
}

/// Before the real minus phase: what would the brain predict with the other turn?
fn counterfactual(on: Res<Evaluate>, mut wrong: ResMut<Wrong>, q: Query<(&Agent, &Motor, &Brain)>) {
    wrong.0 = None;
    if !on.0 {
        return;
    }
    let sc = scenario::look_around();
    for (a, m, b) in &q {
        let alt = opposite(m.action);
        if alt == m.action {
            continue;
        }
        let actions = &sc.agents[a.index].actions;
        let unit = actions.iter().position(|x| *x == alt).unwrap();
        wrong.0 = Some((m.action, b.counterfactual(unit).unwrap()));
    }
}

/// Mean prediction error with the true and with the opposite turn over `eval` turning cycles
/// after `train` cycles of training.
fn true_vs_wrong(seed: u64, train: u64, eval: u64) -> (f64, f64, usize) {
    let mut app = headless_app(scenario::look_around(), seed, true);
    app.insert_resource(Wrong::default())
        .insert_resource(Evaluate(false))
        .add_systems(
            FixedUpdate,
            counterfactual
                .after(ThetaSystems::Sense)
                .before(ThetaSystems::MinusPhase)
                .run_if(cycle_start),
        );
    run_cycles(&mut app, train, |_| {}).unwrap();
    app.world_mut().resource_mut::<Evaluate>().0 = true;
    let (mut t, mut w, mut n) = (0.0, 0.0, 0);
    run_cycles(&mut app, train + eval, |app| {
        let world = app.world();
        let Some((_, wrong)) = &world.resource::<Wrong>().0 else {
            return;
        };
        let mut q = world.try_query::<(&Eye, &Brain)>().unwrap();
        let (eye, b) = q.single(world).unwrap();
        t += mse(&b.prediction, &eye.frame);
        w += mse(wrong, &eye.frame);
        n += 1;
    })
    .unwrap();
    (t / n as f64, w / n as f64, n)
}

/// Issue #3's acceptance line (seed 0, 3000 cycles: 0.01160 with the true turn against
/// 0.01771 with the opposite one; 0.01755 vs 0.01709 with fully connected remapping pathways,
/// 0.01843 vs 0.01841 with none). About three minutes on one core.
#[test]
fn the_action_matters_after_training() {
    let (t, w, n) = true_vs_wrong(0, 3000, 300);
    println!("true action {t:.5}, opposite turn {w:.5} over {n} turning cycles");
    assert!(n >= 100, "{n} turning cycles");
    assert!(
        t < 0.8 * w,
        "true-action error {t:.5} is not clearly below {w:.5}"
    );
}
