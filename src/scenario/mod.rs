//! Scenarios: RON files describing a world, its agents, a run and the expectations on it.
//!
//! [`load`] reads and checks a file; every problem is reported with the file and either the
//! line and column (syntax, unknown or missing fields, wrong types) or the field path (values
//! out of range, overlapping objects), so a user can fix a file without guessing.

pub mod circuit;
mod types;
mod validate;

use std::fmt;
use std::path::Path;

use thiserror::Error;

pub use types::*;

/// The built-in scenario `thetabox run` uses when given no file.
pub const LOOK_AROUND: &str = include_str!("../../scenarios/look_around.ron");

/// One problem found in a scenario file.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// File name as given.
        file: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a valid scenario: bad syntax, an unknown or missing field, a wrong type.
    #[error("{file}:{line}:{col}: {msg}")]
    Parse {
        /// File name as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong, with a suggestion where one is likely.
        msg: String,
    },
    /// A value is out of range or contradicts another one.
    #[error("{file}: {field}: {msg}")]
    Invalid {
        /// File name as given.
        file: String,
        /// Path of the field, e.g. `agents[0].sensors.retina.width`.
        field: String,
        /// What is wrong and what would be valid.
        msg: String,
    },
}

/// Every problem found in one file (at least one).
#[derive(Debug)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

impl From<ScenarioError> for ScenarioErrors {
    fn from(e: ScenarioError) -> Self {
        Self(vec![e])
    }
}

/// Reads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file)
}

/// Parses and validates scenario text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioErrors> {
    // `brain: Cortex(pools: ...)` rather than `Cortex((pools: ...))`.
    let opts = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES);
    let sc: ScenarioFile = opts.from_str(text).map_err(|e| {
        let mut msg = explain(&e.code);
        let line = text
            .lines()
            .nth(e.position.line.saturating_sub(1))
            .unwrap_or("");
        if line.contains("brain:") && matches!(e.code, ron::Error::ExpectedIdentifier) {
            // The form before brains had kinds: `brain: (pools: ...)`.
            msg.push_str(
                "; `brain` names its kind: `brain: Cortex(pools: (4, 4), ...)` or \
                 `brain: Backprop(hidden: 128, ...)`",
            );
        }
        ScenarioError::Parse {
            file: file.to_string(),
            line: e.position.line,
            col: e.position.col,
            msg,
        }
    })?;
    let (sc, inherited) = sc.resolve();
    let errors = validate::check(&sc, file);
    if errors.is_empty() {
        Ok(sc)
    } else {
        Err(ScenarioErrors(blame_defaults(errors, &sc, &inherited)))
    }
}

/// Points errors in fields an agent took from `agent_defaults` at `agent_defaults`, once for
/// all the agents that share the field, naming them.
fn blame_defaults(
    errors: Vec<ScenarioError>,
    sc: &Scenario,
    inherited: &[Vec<&'static str>],
) -> Vec<ScenarioError> {
    // `agents[i].FIELD…` where agent i took FIELD from the defaults: i and `agent_defaults.FIELD…`.
    let shared_field = |field: &str| {
        inherited.iter().enumerate().find_map(|(i, taken)| {
            let rest = field.strip_prefix(&format!("agents[{i}]."))?;
            let head = rest.split(['.', '[']).next()?;
            taken
                .contains(&head)
                .then(|| (i, format!("agent_defaults.{rest}")))
        })
    };
    // Each error with the agents sharing it (none: an agent's or the world's own error).
    let mut out: Vec<(ScenarioError, Vec<&str>)> = Vec::new();
    for e in errors {
        let (e, agent) = match e {
            ScenarioError::Invalid { file, field, msg } => match shared_field(&field) {
                Some((i, at)) => (
                    ScenarioError::Invalid {
                        file,
                        field: at,
                        msg,
                    },
                    Some(sc.agents[i].name.as_str()),
                ),
                None => (ScenarioError::Invalid { file, field, msg }, None),
            },
            e => (e, None),
        };
        let Some(agent) = agent else {
            out.push((e, Vec::new()));
            continue;
        };
        let text = e.to_string();
        match out
            .iter_mut()
            .find(|(o, names)| !names.is_empty() && o.to_string() == text)
        {
            Some((_, names)) => names.push(agent),
            None => out.push((e, vec![agent])),
        }
    }
    out.into_iter()
        .map(|(mut e, names)| {
            if let (ScenarioError::Invalid { msg, .. }, false) = (&mut e, names.is_empty()) {
                let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                let who = if names.len() == 1 { "agent" } else { "agents" };
                msg.push_str(&format!(" (shared by {who} {})", list.join(", ")));
            }
            e
        })
        .collect()
}

/// The built-in `look_around` scenario.
pub fn look_around() -> Scenario {
    parse(LOOK_AROUND, "look_around.ron (built in)").expect("the built-in scenario is valid")
}

/// RON's message, plus "did you mean" for misspelt field and variant names.
fn explain(code: &ron::Error) -> String {
    let (found, expected) = match code {
        ron::Error::NoSuchStructField {
            found, expected, ..
        }
        | ron::Error::NoSuchEnumVariant {
            found, expected, ..
        } => (found.as_str(), *expected),
        _ => return code.to_string(),
    };
    match did_you_mean(found, expected) {
        Some(s) => format!("{code}; did you mean `{s}`?"),
        None => code.to_string(),
    }
}

/// The closest of `candidates` to `word`, if it is plausibly a misspelling.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brain::deep::DeepOpts;
    use crate::brain::network::ThetaParams;

    #[test]
    fn builtin_look_around_is_valid() {
        let sc = look_around();
        assert_eq!(sc.name, "look_around");
        assert_eq!(sc.agents.len(), 1);
    }

    #[test]
    fn unknown_field_gets_a_suggestion_and_position() {
        let text = "(name: \"x\", world: (), agnets: [])";
        let e = parse(text, "t.ron").unwrap_err().to_string();
        assert!(e.starts_with("t.ron:1:"), "{e}");
        assert!(e.contains("did you mean `agents`"), "{e}");
    }

    #[test]
    fn unknown_variant_gets_a_suggestion() {
        let text =
            r#"(name: "x", world: (), agents: [(name: "a", pos: (0, 0), actions: [Froward])])"#;
        let e = parse(text, "t.ron").unwrap_err().to_string();
        assert!(e.contains("did you mean `Forward`"), "{e}");
    }

    #[test]
    fn did_you_mean_ignores_unrelated_words() {
        assert_eq!(did_you_mean("colour", &["color", "pos"]), Some("color"));
        assert_eq!(did_you_mean("zzzzzz", &["color", "pos"]), None);
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let sc = parse(
            r#"(name: "m", world: (), agents: [(name: "a", pos: (0, 0))])"#,
            "m",
        )
        .unwrap();
        assert_eq!(sc.run.physics_steps, 12);
        assert_eq!(sc.agents[0].sensors.retina.width, 16);
        assert_eq!(sc.agents[0].actions.len(), 5);
    }

    #[test]
    fn agent_defaults_fill_what_an_agent_leaves_out() {
        let sc = parse(
            r#"(name: "s", world: (arena: (size: (10, 10))),
                agent_defaults: (
                    yaw: 30,
                    sensors: (retina: (width: 8, channels: [Depth])),
                    actions: [Stay, TurnLeft],
                    brain: Cortex(deep: (lrate: 0.1)),
                ),
                agents: [
                    (name: "a", pos: (-2, 0)),
                    (name: "b", pos: (2, 0), yaw: -90, sensors: (retina: (height: 8))),
                ])"#,
            "s",
        )
        .unwrap();
        let (a, b) = (&sc.agents[0], &sc.agents[1]);
        assert_eq!(a.yaw, 30.0);
        assert_eq!(a.sensors.retina.width, 8);
        assert_eq!(a.sensors.retina.channels, vec![Channel::Depth]);
        assert_eq!(a.actions, vec![Action::Stay, Action::TurnLeft]);
        assert_eq!(a.body, Body::default());
        // An agent's own value replaces the shared one whole.
        assert_eq!(b.yaw, -90.0);
        assert_eq!(b.sensors.retina.width, 16);
        assert_eq!(b.sensors.retina.height, 8);
        assert_eq!(b.actions, a.actions);
        for ag in [a, b] {
            match &ag.brain {
                BrainSpec::Cortex(c) => assert_eq!(c.deep.lrate, 0.1),
                other => panic!("not a cortex: {other:?}"),
            }
        }
        // Without `agent_defaults`, the documented defaults.
        let plain = parse(
            r#"(name: "s", world: (), agents: [(name: "a", pos: (0, 0))])"#,
            "s",
        )
        .unwrap();
        let one = parse(
            r#"(name: "s", world: (), agent_defaults: (), agents: [(name: "a", pos: (0, 0))])"#,
            "s",
        )
        .unwrap();
        assert_eq!(plain, one);
        assert_eq!(plain.agents[0].actions.len(), 5);
        // The file's agent and `AgentSpec`'s own serde defaults agree.
        let direct: AgentSpec = ron::from_str(r#"(name: "a", pos: (0, 0))"#).unwrap();
        assert_eq!(plain.agents[0], direct);
    }

    #[test]
    fn a_bad_shared_field_is_blamed_on_agent_defaults_once() {
        let e = parse(
            r#"(name: "s", world: (arena: (size: (10, 10))),
                agent_defaults: (body: (radius: -1)),
                agents: [
                    (name: "a", pos: (-2, 0)),
                    (name: "b", pos: (0, 0)),
                    (name: "c", pos: (2, 0), body: (radius: -2)),
                ])"#,
            "s.ron",
        )
        .unwrap_err();
        let text = e.to_string();
        let blamed: Vec<_> = text
            .lines()
            .filter(|l| l.contains("agent_defaults.body.radius"))
            .collect();
        assert_eq!(blamed.len(), 1, "{text}");
        assert!(blamed[0].contains("(shared by agents `a`, `b`)"), "{text}");
        // The agent's own bad value stays its own.
        assert!(text.contains("s.ron: agents[2].body.radius"), "{text}");
        // Names and positions cannot be shared.
        let e = parse(
            r#"(name: "s", world: (), agent_defaults: (name: "a"), agents: [(name: "a", pos: (0, 0))])"#,
            "s.ron",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("s.ron:1:") && e.contains("`name`"), "{e}");
    }

    fn cortex(deep: &str) -> Result<Scenario, ScenarioErrors> {
        let text = format!(
            "(name: \"d\", world: (), agents: [(name: \"a\", pos: (0, 0),\n brain: Cortex(deep: {deep}))])"
        );
        parse(&text, "d.ron")
    }

    fn deep_of(sc: &Scenario) -> &DeepOpts {
        match &sc.agents[0].brain {
            BrainSpec::Cortex(c) => &c.deep,
            other => panic!("not a cortex: {other:?}"),
        }
    }

    #[test]
    fn a_partial_deep_block_overrides_the_agent_circuit_field_by_field() {
        let sc = cortex("(lrate: 0.1, theta: (minus_cycles: 100, plus_cycles: 100))").unwrap();
        let want = DeepOpts {
            lrate: 0.1,
            theta: ThetaParams {
                minus_cycles: 100,
                plus_cycles: 100,
                ..DeepOpts::agent().theta
            },
            ..DeepOpts::agent()
        };
        assert_eq!(deep_of(&sc), &want);
        assert_eq!(deep_of(&cortex("()").unwrap()), &DeepOpts::agent());
        let sc = cortex("(tile_radius: None)").unwrap();
        assert_eq!(deep_of(&sc).tile_radius, None);
        assert_eq!(deep_of(&sc).pulv_gi, DeepOpts::agent().pulv_gi);
    }

    #[test]
    fn a_deep_block_reports_unknown_and_agent_owned_fields() {
        let e = cortex("(lrat: 0.1)").unwrap_err().to_string();
        assert!(e.starts_with("d.ron:2:"), "{e}");
        assert!(e.contains("did you mean `lrate`"), "{e}");
        let e = cortex("(hidden_shape: (pools_y: 1, pools_x: 1, units_y: 2, units_x: 2))")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`deep.hidden_shape` is set from the agent"),
            "{e}"
        );
        let e = cortex("(lrate: \"fast\")").unwrap_err().to_string();
        assert!(e.starts_with("d.ron:2:") && e.contains("in `deep`"), "{e}");
    }
}
