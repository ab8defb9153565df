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
    /// This invocation's id (`run-20201120T100000-3f2a`): in its log lines, manifest and JSON
    /// summary. Two reconciliations of one stage have two ids; the stage's own id (the
    /// migration run its rows belong to) is kept beside it.
    pub run_id: String,
}

/// A new invocation id: Beijing time to the second and 16 random bits.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!(
        "run-{}-{:04x}",
        ykt_domain::beijing_now().format("%Y%m%dT%H%M%S"),
        random & 0xffff
    )
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
            run_id: new_run_id(),
        })
    }

    /// A context at `at` under the notice's dates (tests, rehearsals).
    pub fn at(at: DateTime<FixedOffset>) -> Context {
        Context {
            at,
            policy: Policy::default(),
            policy_source: "built-in defaults".to_owned(),
            run_id: new_run_id(),
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
