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
/// SQLite file), whoever connects and with whatever options ([`DbUrl::identity`]).
pub fn same_database(a: &DbUrl, b: &DbUrl) -> bool {
    a.identity() == b.identity()
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
/// A database is the same source whoever connects to it and with whatever options
/// ([`same_database`]); an export folder is the same folder, however its path is written.
/// `advice` ends the refusal: what the command offers instead.
pub fn same_source(
    stage: &Stage,
    source: &LegacySource,
    advice: &str,
) -> Result<(), PipelineError> {
    let manifest: ExtractManifest = stage.manifest(Step::Extract)?;
    let recorded = &manifest.source;
    let same = match source {
        LegacySource::Database(url) => {
            recorded.kind == "database"
                && recorded
                    .location
                    .parse::<DbUrl>()
                    .is_ok_and(|staged| same_database(&staged, url))
        }
        LegacySource::Export(dir) => {
            let canon = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
            recorded.kind == "export"
                && canon(std::path::Path::new(&recorded.location)) == canon(dir)
        }
    };
    if !same {
        return Err(input(format!(
            "the stage {} was extracted from {}, not from {source}; {advice}",
            stage.dir().display(),
            recorded.location
        )));
    }
    Ok(())
}
