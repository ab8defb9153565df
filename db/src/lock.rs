//! One writer at a time on a target database.
//!
//! `ykt migrate`, `load`, `sync`, `freeze`, `guard install|remove` and `signoff` write into the
//! new platform; two of them at once could mix two sources county by county. Each takes the
//! target's writer lock for its whole run:
//!
//! - PostgreSQL: a session advisory lock, held by a connection of its own. The server releases
//!   it when the process dies. Whoever takes the lock then ends the dead run's leftover server
//!   work (an index build still running, say) before it writes, instead of racing it: every
//!   connection a run opens once it holds the lock carries an application name that says so
//!   (a run still asking for the lock does not, and is never ended).
//! - SQLite: an OS file lock on `FILE.ykt-lock` beside the database, released by the kernel
//!   when the process dies.
//!
//! A second writer is refused with one sentence naming who holds the lock and since when.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use crate::{Db, DbError, DbUrl, Engine};

/// The advisory lock key of ykt's writer lock ("ykt" in ASCII).
const ADVISORY_KEY: i64 = 0x79_6b_74;

static IDENTITY: OnceLock<String> = OnceLock::new();
static WRITER: AtomicBool = AtomicBool::new(false);

/// Names this process to the database servers: `migrate pid=42 host=h `, set once at start,
/// before any connection.
pub fn set_identity(command: &str) {
    let _ = IDENTITY.set(format!(
        "{command} pid={} host={} ",
        std::process::id(),
        hostname()
    ));
}

/// The application name of this process's connections: `ykt migrate pid=42 host=h ` until it
/// holds a target's writer lock, `ykt-writer migrate pid=42 host=h ` from then on. Only the
/// sessions of a run that held the lock carry the writer name, so a run that takes the lock
/// ends a dead writer's leftover work but never a live run that is only asking for the lock.
pub(crate) fn identity() -> String {
    let kind = if WRITER.load(Ordering::Relaxed) {
        "ykt-writer"
    } else {
        "ykt"
    };
    format!("{kind} {}", IDENTITY.get().map_or("", String::as_str))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Seconds a lost writer lock is asked for again while its server does not take sessions.
const RETAKE_TRIES: u32 = 30;

/// The writer lock of a target, held until dropped.
pub struct WriterLock {
    held: Held,
    url: DbUrl,
}

impl WriterLock {
    /// Makes sure the lock is still held. A PostgreSQL server that restarted took the lock's
    /// session with it: the lock is taken again if nobody else took it meanwhile, else the run
    /// must stop (`DbError::Busy`).
    pub async fn ensure_held(&mut self) -> Result<(), DbError> {
        let Held::Postgres(conn) = &mut self.held else {
            return Ok(());
        };
        if sqlx::query("SELECT 1").execute(conn.as_mut()).await.is_ok() {
            return Ok(());
        }
        tracing::warn!(target_db = %self.url, "The connection holding the writer lock was lost; taking the lock again.");
        // A server that restarts refuses sessions while it shuts down and starts up: it is
        // asked again each second for a while (a restart under a load took 1–3 s here).
        let mut tries = 0;
        let again = loop {
            match postgres_lock(&self.url).await {
                Err(e) if e.is_server_gone() && tries < RETAKE_TRIES => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                taken => break taken?,
            }
        };
        self.held = again.held;
        Ok(())
    }
}

/// What keeps the lock; dropping it lets go.
enum Held {
    Postgres(Box<PgConnection>),
    File(#[allow(dead_code)] File),
}

/// Who holds a lock, as a sentence fragment: `ykt migrate (pid 42 on host h) since …`.
fn describe(application: &str, since: &str) -> String {
    let mut words = application.split_whitespace();
    let _kind = words.next();
    let command = words.next().unwrap_or("?");
    let mut pid = "?";
    let mut host = "?";
    for w in words {
        if let Some(p) = w.strip_prefix("pid=") {
            pid = p;
        }
        if let Some(h) = w.strip_prefix("host=") {
            host = h;
        }
    }
    if command == "?" {
        return "another ykt run (it has not said which)".to_owned();
    }
    format!("`ykt {command}` (pid {pid} on host {host}) since {since}")
}

impl Db {
    /// Takes the writer lock of a SQLite target before it is opened (opening it while another
    /// run writes would meet SQLite's own lock instead of a sentence naming the other run).
    pub fn sqlite_writer_lock(url: &DbUrl, command: &str) -> Result<WriterLock, DbError> {
        file_lock(url, command)
    }

    /// Takes the target's writer lock for `command`, or says who holds it. On PostgreSQL the
    /// pool is opened again once the lock is held, so that every session doing the run's work
    /// carries the writer's name (see [`identity`]).
    pub async fn writer_lock(self, command: &str) -> Result<(Db, WriterLock), DbError> {
        match self.engine() {
            Engine::Postgres => {
                let lock = postgres_lock(self.url()).await?;
                let url = self.url().clone();
                self.close().await;
                Ok((Db::connect(&url).await?, lock))
            }
            Engine::Sqlite => {
                let lock = file_lock(self.url(), command)?;
                Ok((self, lock))
            }
            Engine::MySql => Err(DbError::BadUrl {
                url: self.url().to_string(),
                reason: "the new platform is PostgreSQL or SQLite, not MySQL/MariaDB",
            }),
        }
    }
}

async fn postgres_lock(url: &DbUrl) -> Result<WriterLock, DbError> {
    let err = |source| DbError::Connect {
        url: url.to_string(),
        source,
    };
    let options = crate::pool::pg_options(url).map_err(err)?;
    let mut conn = PgConnection::connect_with(&options).await.map_err(err)?;
    let query_err = |what: &str| {
        let what = what.to_owned();
        move |source| DbError::Query {
            url: url.to_string(),
            what,
            source,
        }
    };
    let got: bool = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT pg_try_advisory_lock({ADVISORY_KEY})"
    )))
    .fetch_one(&mut conn)
    .await
    .map_err(query_err("taking the writer lock"))?;
    if !got {
        let holder: Option<(String, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT COALESCE(a.application_name, ''), to_char(a.backend_start AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') || '+08:00' \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objid = {ADVISORY_KEY} \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1"
        )))
        .fetch_optional(&mut conn)
        .await
        .map_err(query_err("asking who holds the writer lock"))?;
        let (application, since) = holder.unwrap_or_else(|| ("? ?".into(), "?".into()));
        let _ = conn.close().await;
        return Err(DbError::Busy {
            url: url.to_string(),
            holder: describe(&application, &since),
        });
    }
    // The lock is ours: from now on this process's sessions carry the writer name (a pool
    // opened before the lock is opened again, see `Db::writer_lock`). Any other writer's
    // session is what a dead run left behind (a live one would hold the lock): end it and
    // wait until it is gone.
    WRITER.store(true, Ordering::Relaxed);
    sqlx::query(AssertSqlSafe(format!(
        "SET application_name = {}",
        crate::quote_literal(Engine::Postgres, &identity())
    )))
    .execute(&mut conn)
    .await
    .map_err(query_err("naming the writer's session"))?;
    let mine = format!("% pid={} %", std::process::id());
    let leftovers = format!(
        "FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ykt-writer %' \
         AND application_name NOT LIKE '{mine}' AND pid <> pg_backend_pid()"
    );
    for _ in 0..120 {
        let left: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) {leftovers}")))
            .fetch_one(&mut conn)
            .await
            .map_err(query_err("looking for a dead run's sessions"))?;
        if left == 0 {
            break;
        }
        tracing::warn!(
            sessions = left,
            "Ending the server work a stopped run left behind."
        );
        let _ = sqlx::query(AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) {leftovers}"
        )))
        .execute(&mut conn)
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(WriterLock {
        held: Held::Postgres(Box::new(conn)),
        url: url.clone(),
    })
}

fn file_lock(url: &DbUrl, command: &str) -> Result<WriterLock, DbError> {
    let path = format!("{}.ykt-lock", url.database());
    let io = |source: std::io::Error| DbError::LockFile {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = read_holder(&mut file);
            let (application, since) = match holder.as_deref().and_then(|h| h.split_once('\n')) {
                Some((application, since)) => (application.to_owned(), since.trim().to_owned()),
                None => ("? ?".to_owned(), "?".to_owned()),
            };
            return Err(DbError::Busy {
                url: url.to_string(),
                holder: describe(&application, &since),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let since = beijing_now();
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    set_identity(command);
    WRITER.store(true, Ordering::Relaxed);
    write!(file, "{}\n{since}\n", identity()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(WriterLock {
        held: Held::File(file),
        url: url.clone(),
    })
}

/// What the holder of the lock file wrote about itself, waiting briefly for a holder that has
/// taken the lock but not yet written.
fn read_holder(file: &mut File) -> Option<String> {
    for _ in 0..20 {
        let mut holder = String::new();
        if file.rewind().is_ok()
            && file.read_to_string(&mut holder).is_ok()
            && !holder.trim().is_empty()
        {
            return Some(holder);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Now, as `YYYY-MM-DD HH:MM:SS+08:00` (Beijing time).
pub(crate) fn beijing_now() -> String {
    ykt_domain::beijing_now()
        .format("%Y-%m-%d %H:%M:%S%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_holder() {
        assert_eq!(
            describe(
                "ykt-writer migrate pid=42 host=ykt-1 ",
                "2026-11-27 12:00:00+08:00"
            ),
            "`ykt migrate` (pid 42 on host ykt-1) since 2026-11-27 12:00:00+08:00"
        );
        let now = beijing_now();
        assert_eq!(now.len(), 25, "{now}");
        assert!(now.starts_with("20") && now.ends_with("+08:00"), "{now}");
    }

    #[tokio::test]
    async fn a_second_sqlite_writer_is_refused_naming_the_first() {
        let (_, url) = crate::temp_sqlite("lock");
        let first = file_lock(&url, "migrate").unwrap();
        // A second open file description of the same file: as another process would.
        match file_lock(&url, "load") {
            Err(DbError::Busy { holder, .. }) => {
                assert!(
                    holder.contains("`ykt migrate`") && holder.contains("since 20"),
                    "{holder}"
                )
            }
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
        drop(first);
        file_lock(&url, "load").expect("free again once the first let go");
    }
}
