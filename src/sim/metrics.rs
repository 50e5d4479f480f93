//! Per-cycle metrics in frame space, so no setting of the learner can flatter them.
//!
//! The prediction is the pulvinar's minus-phase activity decoded to pixel values by a
//! per-unit monotone map calibrated only from plus-phase activity against the pixel value that
//! drove it ([`MonotoneDecoder`]). Then, for frame t+1 (the outcome):
//! `pred_error` = mean squared error of the decoded prediction, `baseline_error` = the same for
//! copying frame t, `correlation` = Pearson r of prediction and outcome, and over a window
//! `skill = 1 − Σ pred_error / Σ baseline_error`.

use std::collections::VecDeque;
use std::io::Write;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use super::body::{Agent, Motor};
use super::brain::Brain;
use super::retina::Eye;
use super::{ThetaClock, ThetaSystems};
pub use crate::brain::decoder::MonotoneDecoder;
pub use crate::brain::math::mse;

/// Pearson correlation (0 when either side is constant).
pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let ma = a.iter().map(|x| *x as f64).sum::<f64>() / n as f64;
    let mb = b.iter().map(|x| *x as f64).sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (*x as f64 - ma, *y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= 1e-12 || sbb <= 1e-12 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Theta cycle.
    pub cycle: u64,
    /// Agent name.
    pub agent: String,
    /// MSE of the decoded prediction against frame t+1.
    pub pred_error: f64,
    /// MSE of frame t against frame t+1.
    pub baseline_error: f64,
    /// Pearson r of prediction and frame t+1.
    pub correlation: f64,
    /// Action taken.
    pub action: &'static str,
    /// Position.
    pub x: f32,
    /// Height of the body's centre.
    pub y: f32,
    /// Position.
    pub z: f32,
    /// Heading, degrees.
    pub yaw: f32,
}

/// Metrics as they come: the most recent rows (for progress displays), running sums over the
/// final window (for the summary) and an optional CSV sink. Memory stays flat however long the
/// run: every row goes to the sink, only the recent ones are kept.
#[derive(Resource)]
pub struct MetricsLog {
    /// The most recent rows, oldest first (at most `recent_cap`).
    pub recent: VecDeque<Row>,
    /// How many recent rows to keep. Default 4096.
    pub recent_cap: usize,
    /// First cycle of the final window.
    pub window_from: u64,
    /// Final-window sums per agent index.
    sums: Vec<Sums>,
    /// Where rows are also written as they come.
    pub csv: Option<csv::Writer<Box<dyn Write + Send + Sync>>>,
    /// First write error (the run stops on it).
    pub error: Option<String>,
}

impl Default for MetricsLog {
    fn default() -> Self {
        Self {
            recent: VecDeque::new(),
            recent_cap: 4096,
            window_from: 0,
            sums: Vec::new(),
            csv: None,
            error: None,
        }
    }
}

/// Running sums of one agent's rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Sums {
    pred: f64,
    base: f64,
    corr: f64,
    n: usize,
}

impl MetricsLog {
    /// Adds a row of agent `index`.
    pub fn push(&mut self, index: usize, row: Row) {
        if let Some(w) = &mut self.csv
            && let Err(e) = w.serialize(&row)
        {
            self.error.get_or_insert(format!("writing metrics: {e}"));
        }
        if row.cycle >= self.window_from {
            if self.sums.len() <= index {
                self.sums.resize(index + 1, Sums::default());
            }
            let s = &mut self.sums[index];
            s.pred += row.pred_error;
            s.base += row.baseline_error;
            s.corr += row.correlation;
            s.n += 1;
        }
        if self.recent.len() == self.recent_cap {
            self.recent.pop_front();
        }
        self.recent.push_back(row);
    }

    /// Final-window statistics of agent `index`.
    pub fn window(&self, index: usize) -> Window {
        let s = self.sums.get(index).copied().unwrap_or_default();
        Window::from_sums(s.pred, s.base, s.corr, s.n)
    }

    /// What a checkpoint keeps of the log: the recent rows and the final-window sums.
    pub fn state(&self) -> MetricsState {
        MetricsState {
            recent: self.recent.iter().map(RowState::from).collect(),
            sums: self.sums.clone(),
        }
    }

    /// Takes back what [`Self::state`] kept (the sink and window start are the caller's).
    pub fn restore(&mut self, s: MetricsState) {
        self.recent = s.recent.into_iter().map(Row::from).collect();
        self.sums = s.sums;
    }

    /// Flushes the CSV sink.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.csv {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

/// The state of a [`MetricsLog`] a checkpoint keeps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsState {
    recent: Vec<RowState>,
    sums: Vec<Sums>,
}

/// A [`Row`] that owns its action name (for reading back).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct RowState {
    cycle: u64,
    agent: String,
    pred_error: f64,
    baseline_error: f64,
    correlation: f64,
    action: crate::scenario::Action,
    xyz_yaw: [f32; 4],
}

impl From<&Row> for RowState {
    fn from(r: &Row) -> Self {
        Self {
            cycle: r.cycle,
            agent: r.agent.clone(),
            pred_error: r.pred_error,
            baseline_error: r.baseline_error,
            correlation: r.correlation,
            action: crate::scenario::Action::from_name(r.action)
                .unwrap_or(crate::scenario::Action::Stay),
            xyz_yaw: [r.x, r.y, r.z, r.yaw],
        }
    }
}

impl From<RowState> for Row {
    fn from(r: RowState) -> Self {
        let [x, y, z, yaw] = r.xyz_yaw;
        Self {
            cycle: r.cycle,
            agent: r.agent,
            pred_error: r.pred_error,
            baseline_error: r.baseline_error,
            correlation: r.correlation,
            action: r.action.name(),
            x,
            y,
            z,
            yaw,
        }
    }
}

/// Window statistics of one agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Window {
    /// Mean prediction error.
    pub pred_error: f64,
    /// Mean copy-last-frame error.
    pub baseline_error: f64,
    /// `1 − Σ pred / Σ baseline`.
    pub skill: f64,
    /// Mean correlation.
    pub correlation: f64,
}

impl Window {
    /// Statistics over `rows`.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Self {
        let (mut p, mut b, mut c, mut n) = (0.0, 0.0, 0.0, 0usize);
        for r in rows {
            p += r.pred_error;
            b += r.baseline_error;
            c += r.correlation;
            n += 1;
        }
        Self::from_sums(p, b, c, n)
    }

    fn from_sums(p: f64, b: f64, c: f64, n: usize) -> Self {
        if n == 0 {
            return Self::default();
        }
        let nf = n as f64;
        Self {
            pred_error: p / nf,
            baseline_error: b / nf,
            skill: if b > 0.0 { 1.0 - p / b } else { 0.0 },
            correlation: c / nf,
        }
    }
}

/// One agent's final-window errors over the cycles in which it took one action: where its
/// error comes from. (With `Stay`, copying the last frame is exact, so those cycles measure
/// only how well the learner reproduces what it sees.)
#[derive(Clone, Debug, PartialEq)]
pub struct ActionWindow {
    /// Agent name.
    pub agent: String,
    /// Action taken.
    pub action: String,
    /// Theta cycles.
    pub cycles: usize,
    /// Mean prediction error.
    pub pred_error: f64,
    /// Mean copy-last-frame error.
    pub baseline_error: f64,
}

impl ActionWindow {
    /// `1 − Σ pred / Σ baseline`; none where copying was exact on every cycle.
    pub fn skill(&self) -> Option<f64> {
        (self.baseline_error > 0.0).then(|| 1.0 - self.pred_error / self.baseline_error)
    }
}

/// The columns of `metrics.csv` that [`by_action`] reads.
#[derive(Deserialize)]
struct ActionRow {
    cycle: u64,
    agent: String,
    pred_error: f64,
    baseline_error: f64,
    action: String,
}

/// Splits the rows of cycles `from..` by agent and action, agents and actions in the order
/// they first appear.
pub fn split_by_action<'a>(
    rows: impl IntoIterator<Item = (u64, &'a str, &'a str, f64, f64)>,
    from: u64,
) -> Vec<ActionWindow> {
    let mut out: Vec<ActionWindow> = Vec::new();
    for (cycle, agent, action, p, b) in rows {
        if cycle < from {
            continue;
        }
        let at = match out
            .iter()
            .position(|w| w.agent == agent && w.action == action)
        {
            Some(i) => i,
            None => {
                // After the agent's other actions, so each agent's lines stay together.
                let i = out
                    .iter()
                    .rposition(|w| w.agent == agent)
                    .map_or(out.len(), |i| i + 1);
                out.insert(
                    i,
                    ActionWindow {
                        agent: agent.to_string(),
                        action: action.to_string(),
                        cycles: 0,
                        pred_error: 0.0,
                        baseline_error: 0.0,
                    },
                );
                i
            }
        };
        let w = &mut out[at];
        w.cycles += 1;
        w.pred_error += p;
        w.baseline_error += b;
    }
    for w in &mut out {
        w.pred_error /= w.cycles as f64;
        w.baseline_error /= w.cycles as f64;
    }
    out
}

/// [`split_by_action`] over a `metrics.csv` written by a run.
pub fn by_action(path: &std::path::Path, from: u64) -> csv::Result<Vec<ActionWindow>> {
    // Only the window's rows are kept: a long run's file can be large.
    let rows = csv::Reader::from_path(path)?
        .into_deserialize::<ActionRow>()
        .filter(|r| r.as_ref().map_or(true, |r| r.cycle >= from))
        .collect::<csv::Result<Vec<_>>>()?;
    Ok(split_by_action(
        rows.iter().map(|r| {
            (
                r.cycle,
                r.agent.as_str(),
                r.action.as_str(),
                r.pred_error,
                r.baseline_error,
            )
        }),
        from,
    ))
}

/// Writes a row per agent at the end of each theta cycle.
pub struct MetricsPlugin;

impl Plugin for MetricsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<MetricsLog>()
            .add_systems(FixedUpdate, record.in_set(ThetaSystems::Record));
    }
}

fn record(
    clock: Res<ThetaClock>,
    mut log: ResMut<MetricsLog>,
    q: Query<(&Agent, &Transform, &Motor, &Eye, &Brain)>,
) {
    let mut items: Vec<_> = q.iter().collect();
    items.sort_by_key(|(a, ..)| a.index);
    for (a, t, m, eye, b) in items {
        let row = Row {
            cycle: clock.cycle,
            agent: a.name.clone(),
            pred_error: mse(&b.prediction, &eye.frame),
            baseline_error: mse(&b.frame, &eye.frame),
            correlation: pearson(&b.prediction, &eye.frame),
            action: m.action.name(),
            x: t.translation.x,
            y: t.translation.y,
            z: t.translation.z,
            yaw: m.yaw.to_degrees(),
        };
        log.push(a.index, row);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_split_by_agent_and_action_over_the_window() {
        let rows = [
            (0, "a", "Stay", 9.0, 9.0),
            (1, "a", "Stay", 0.2, 0.0),
            (1, "b", "TurnLeft", 1.0, 4.0),
            (2, "a", "TurnLeft", 1.0, 2.0),
            (2, "b", "TurnLeft", 3.0, 4.0),
            (3, "a", "Stay", 0.4, 0.0),
        ];
        let w = super::split_by_action(rows, 1);
        let keys: Vec<_> = w
            .iter()
            .map(|w| (w.agent.as_str(), w.action.as_str()))
            .collect();
        assert_eq!(keys, [("a", "Stay"), ("a", "TurnLeft"), ("b", "TurnLeft")]);
        assert_eq!(w[0].cycles, 2);
        assert!((w[0].pred_error - 0.3).abs() < 1e-12);
        assert_eq!(w[0].skill(), None, "copying was exact");
        assert_eq!(w[1].skill(), Some(0.5));
        assert_eq!((w[2].cycles, w[2].skill()), (2, Some(0.5)));
    }

    use super::*;

    #[test]
    fn a_log_state_comes_back_whole() {
        let mut log = MetricsLog {
            window_from: 2,
            ..Default::default()
        };
        for (cycle, action) in [(0, "TurnLeft"), (1, "Stay"), (2, "Forward"), (3, "Back")] {
            for agent in 0..2 {
                log.push(
                    agent,
                    Row {
                        cycle,
                        agent: format!("a{agent}"),
                        pred_error: 0.1 + cycle as f64 / 7.0,
                        baseline_error: 0.3,
                        correlation: 0.5 - agent as f64 / 3.0,
                        action,
                        x: 1.0,
                        y: 0.5,
                        z: -(cycle as f32),
                        yaw: 30.0,
                    },
                );
            }
        }
        let bytes = postcard::to_allocvec(&log.state()).unwrap();
        let mut back = MetricsLog {
            window_from: 2,
            ..Default::default()
        };
        back.restore(postcard::from_bytes(&bytes).unwrap());
        assert_eq!(back.recent, log.recent);
        assert_eq!(back.window(0), log.window(0));
        assert_eq!(back.window(1), log.window(1));
        assert_ne!(back.window(0), Window::default());
    }

    #[test]
    fn decoder_inverts_a_monotone_response() {
        let mut d = MonotoneDecoder::new(2);
        // Unit 0: act = v²; unit 1: act = 1 − v (decreasing: the fit pools it flat).
        for k in 0..=100 {
            let v = k as f32 / 100.0;
            d.observe(&[v * v, 1.0 - v], &[v, v]);
        }
        let out = d.decode(&[0.25, 0.5]);
        assert!((out[0] - 0.5).abs() < 0.06, "{}", out[0]);
        // A unit that carries no monotone information decodes to a constant (its mean value).
        assert!((out[1] - 0.5).abs() < 0.06, "{}", out[1]);
        // Activity beyond the calibrated range clamps to the end values.
        assert!(d.decode(&[2.0, 0.0])[0] > 0.9);
    }

    #[test]
    fn errors_and_correlation() {
        assert_eq!(mse(&[0.0, 1.0], &[1.0, 1.0]), 0.5);
        assert!((pearson(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]) - 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[0.0, 1.0]), 0.0);
        let rows = [
            Row {
                cycle: 0,
                agent: "a".into(),
                pred_error: 1.0,
                baseline_error: 4.0,
                correlation: 0.5,
                action: "Stay",
                x: 0.0,
                y: 0.0,
                z: 0.0,
                yaw: 0.0,
            },
            Row {
                cycle: 1,
                agent: "a".into(),
                pred_error: 1.0,
                baseline_error: 0.0,
                correlation: 0.7,
                action: "Stay",
                x: 0.0,
                y: 0.0,
                z: 0.0,
                yaw: 0.0,
            },
        ];
        let w = Window::of(&rows);
        assert_eq!(w.skill, 0.5);
        assert!((w.correlation - 0.6).abs() < 1e-12);
        // The log's running window agrees, and keeps only what it must.
        let mut log = MetricsLog {
            recent_cap: 1,
            ..Default::default()
        };
        for r in &rows {
            log.push(0, r.clone());
        }
        assert_eq!(log.window(0), w);
        assert_eq!(log.recent.len(), 1);
        assert_eq!(log.window(3), Window::default());
        log.window_from = 1;
        let mut late = MetricsLog {
            window_from: 1,
            ..Default::default()
        };
        for r in &rows {
            late.push(0, r.clone());
        }
        assert_eq!(late.window(0).pred_error, 1.0);
        assert_eq!(late.window(0).skill, 0.0);
    }
}
