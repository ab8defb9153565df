//! Opening what a run writes, with the checks that can be made before any work: the target
//! (not MySQL, not the legacy database, locked for one writer) and the stage (locked; from the
//! source the operator names).

use ykt_db::{Db, DbUrl, Engine, WriterLock};
use ykt_extract::LegacySource;
use ykt_stage::{ExtractManifest, Stage, StageLock, Step};

use crate::{PipelineError, input};

/// The new platform opened for writing: reachable, not the legacy database, and locked for this
/// run (one writer at a time). The lock is let go when this is dropped.
pub struct WriteTarget {
    pub db: Db,
    pub lock: WriterLock,
}

/// Opens the target for writing, checking what can be checked before any work: a MySQL target
/// is refused before anything is created, the legacy database is refused as a target, a
/// missing database is created only when `create`, and another writer's run is refused with
/// who and since when.
pub async fn open_for_writing(
    url: &DbUrl,
    command: &str,
    create: bool,
    legacy: Option<&DbUrl>,
) -> Result<WriteTarget, PipelineError> {
    if url.engine() == Engine::MySql {
        return Err(input(format!(
            "{url}: the new platform is PostgreSQL or SQLite; MySQL/MariaDB is the legacy system's engine, not a target"
        )));
    }
    if let Some(legacy) = legacy
        && same_database(url, legacy)
    {
        return Err(input(format!(
            "{url} is the legacy database itself; the target must be another database"
        )));
    }
    // A SQLite target is locked before it is opened: opening it while another run writes would
    // meet SQLite's own lock rather than a sentence naming that run.
    let sqlite_lock = if url.engine() == Engine::Sqlite {
        if !create && !std::path::Path::new(url.database()).is_file() {
            return Err(input(format!(
                "{url}: no such database file; `ykt migrate` or `ykt load` creates the target"
            )));
        }
        Some(Db::sqlite_writer_lock(url, command)?)
    } else {
        None
    };
    let db = if create {
        Db::connect_or_create(url).await
    } else {
        Db::connect(url).await
    }?;
    if db.table_exists("T_FFMX").await? {
        return Err(input(format!(
            "{url} holds the legacy table T_FFMX: it looks like the legacy database; the target must be another database"
        )));
    }
    let (db, lock) = match sqlite_lock {
        Some(lock) => (db, lock),
        None => db.writer_lock(command).await?,
    };
    Ok(WriteTarget { db, lock })
}

/// Whether two URLs name the same database (same engine, server and database, or the same
/// SQLite file).
pub fn same_database(a: &DbUrl, b: &DbUrl) -> bool {
    if a.engine() != b.engine() {
        return false;
    }
    match a.engine() {
        Engine::Sqlite => {
            let canon = |u: &DbUrl| {
                std::fs::canonicalize(u.database()).unwrap_or_else(|_| u.database().into())
            };
            canon(a) == canon(b)
        }
        _ => a.to_string() == b.to_string(),
    }
}

/// Takes a stage folder's lock: exclusive to write it, shared to read it.
pub fn lock_stage(
    stage: &Stage,
    command: &str,
    exclusive: bool,
) -> Result<StageLock, PipelineError> {
    Ok(stage.lock(command, exclusive)?)
}

/// Refuses a stage extracted from another source than the one named (`--resume`, reconcile).
pub fn same_source(stage: &Stage, source: &LegacySource) -> Result<(), PipelineError> {
    let manifest: ExtractManifest = stage.manifest(Step::Extract)?;
    let named = source.to_string();
    if manifest.source.location != named {
        return Err(input(format!(
            "the stage {} was extracted from {}, not from {named}; run without --resume to extract {named}, or use that stage's own source",
            stage.dir().display(),
            manifest.source.location
        )));
    }
    Ok(())
}
