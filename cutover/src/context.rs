//! The moment a command runs as and the policy in force: a value handed to every sequence,
//! never a global, so a test can run any step at any moment.

use std::path::Path;

use chrono::{DateTime, FixedOffset};

use crate::{CutoverError, Phase, Policy, beijing};

/// When (`--at`, else now) and under which policy a command runs.
#[derive(Debug, Clone)]
pub struct Context {
    pub at: DateTime<FixedOffset>,
    pub policy: Policy,
    /// Where the policy came from, for the record.
    pub policy_source: String,
}

impl Context {
    /// The policy of `config`, else of `./ykt.toml` when it exists, else the notice's dates; at
    /// `at`, else now.
    pub fn load(
        config: Option<&Path>,
        at: Option<DateTime<FixedOffset>>,
    ) -> Result<Context, CutoverError> {
        let (policy, policy_source) = match config {
            Some(path) => (Policy::from_file(path)?, path.display().to_string()),
            None if Path::new("ykt.toml").is_file() => (
                Policy::from_file(Path::new("ykt.toml"))?,
                "ykt.toml".to_owned(),
            ),
            None => (Policy::default(), "built-in defaults".to_owned()),
        };
        Ok(Context {
            at: at.unwrap_or_else(|| chrono::Utc::now().with_timezone(&beijing())),
            policy,
            policy_source,
        })
    }

    /// A context at `at` under the notice's dates (tests, rehearsals).
    pub fn at(at: DateTime<FixedOffset>) -> Context {
        Context {
            at,
            policy: Policy::default(),
            policy_source: "built-in defaults".to_owned(),
        }
    }

    /// The moment as records and reports write it, sortable: `2020-11-20 10:00:00+08:00`.
    pub fn stamp(&self) -> String {
        self.at
            .with_timezone(&beijing())
            .format("%Y-%m-%d %H:%M:%S%:z")
            .to_string()
    }

    /// The phase at this moment.
    pub fn phase(&self) -> Phase {
        self.policy.phase_at(self.at)
    }
}
