//! A replay store in a SQLite database file, shared by gateway processes on one host.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, ErrorCode, OpenFlags, params};

use super::{Freshness, ReplayStore, StoreFuture, expiry_millis, now_millis};
use crate::StoreError;

/// How long a statement waits for another connection's write lock before giving up with
/// [`StoreError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Rows deleted per purge statement, so a large purge does not hold the write lock for long.
const PURGE_BATCH: i64 = 5_000;

/// Inserts the pair, or revives it if the stored row has expired; changes nothing if a live row
/// exists. One statement, so it is atomic across connections and processes: SQLite serialises
/// writers on the database file.
const INSERT: &str = "INSERT INTO replay (signer, nonce, expires_at) VALUES (?1, ?2, ?3) \
     ON CONFLICT (signer, nonce) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE replay.expires_at < ?4";

const PURGE: &str = "DELETE FROM replay WHERE (signer, nonce) IN \
     (SELECT signer, nonce FROM replay WHERE expires_at < ?1 LIMIT ?2)";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS replay (\
         signer TEXT NOT NULL, \
         nonce TEXT NOT NULL, \
         expires_at INTEGER NOT NULL, \
         PRIMARY KEY (signer, nonce)\
     ) WITHOUT ROWID; \
     CREATE INDEX IF NOT EXISTS replay_expires_at ON replay (expires_at);";

/// A replay store in a SQLite file.
///
/// Any number of stores, in one process or several, may open the same file and agree on every
/// answer. The file must be on a local file system (SQLite's locking is unreliable over network
/// file systems); for several hosts use the Redis store.
///
/// The database runs in WAL mode with `synchronous = NORMAL`: a recorded pair survives a crash
/// of the gateway process, but the last few may be lost if the whole machine loses power (the
/// same durability as a Redis server with default persistence). Each call runs on Tokio's
/// blocking pool, so the store must be used from within a Tokio runtime. Expired rows are
/// replaced on insert and deleted by [`ReplayStore::purge_expired`], which the gateway should
/// run periodically ([`spawn_purge_task`](crate::spawn_purge_task)).
#[derive(Debug, Clone)]
pub struct SqliteReplayStore {
    connection: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl SqliteReplayStore {
    /// Opens (creating if needed) the database at `path` and its `replay` table.
    ///
    /// This does blocking file I/O; it is meant for start-up.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the file cannot be opened or stays locked longer than the
    /// busy timeout; [`StoreError::Backend`] if it is not a usable SQLite database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let fail = |error| sqlite_error(&path, error);
        let connection = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        let mode: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Config(format!(
                "sqlite replay store {} cannot use write-ahead logging (journal mode is {mode}); \
                 use a file on a local file system",
                path.display()
            )));
        }
        connection
            .execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(fail)?;
        connection.execute_batch(SCHEMA).map_err(fail)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            path: Arc::new(path),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection on the blocking pool.
    async fn with_connection<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        let path = Arc::clone(&self.path);
        tokio::task::spawn_blocking(move || {
            let guard = lock(&connection)?;
            work(&guard).map_err(|error| sqlite_error(&path, error))
        })
        .await
        .map_err(|_| StoreError::Backend("sqlite replay store task failed".into()))?
    }
}

fn lock(connection: &Mutex<Connection>) -> Result<MutexGuard<'_, Connection>, StoreError> {
    connection
        .lock()
        .map_err(|_| StoreError::Backend("sqlite replay store lock poisoned".into()))
}

/// The insert-or-revive step on an open connection.
fn check_and_insert_on(
    connection: &Connection,
    signer: &str,
    nonce: &str,
    expires: i64,
    now: i64,
) -> Result<Freshness, rusqlite::Error> {
    let mut statement = connection.prepare_cached(INSERT)?;
    let changed = statement.execute(params![signer, nonce, expires, now])?;
    Ok(if changed == 0 {
        Freshness::Replayed
    } else {
        Freshness::Fresh
    })
}

/// One purge batch on an open connection.
fn purge_batch_on(connection: &Connection, now: i64) -> Result<u64, rusqlite::Error> {
    let mut statement = connection.prepare_cached(PURGE)?;
    let deleted = statement.execute(params![now, PURGE_BATCH])?;
    Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
}

fn sqlite_error(path: &Path, error: rusqlite::Error) -> StoreError {
    let code = error.sqlite_error_code();
    match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!(
                "sqlite replay store {} stayed locked by another connection for over {} ms",
                path.display(),
                BUSY_TIMEOUT.as_millis()
            ))
        }
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure,
        ) => StoreError::Unavailable(format!(
            "sqlite replay store {} cannot be written ({error}); check the path, its permissions and free space",
            path.display()
        )),
        _ => StoreError::Backend(format!("sqlite replay store {}: {error}", path.display())),
    }
}

impl ReplayStore for SqliteReplayStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn check_and_insert<'a>(
        &'a self,
        signer: &'a str,
        nonce: &'a str,
        expires_at: SystemTime,
    ) -> StoreFuture<'a, Freshness> {
        Box::pin(async move {
            let now = SystemTime::now();
            let expires = expiry_millis(expires_at, now)?;
            let now = now_millis(now);
            let (signer, nonce) = (signer.to_owned(), nonce.to_owned());
            self.with_connection(move |connection| {
                check_and_insert_on(connection, &signer, &nonce, expires, now)
            })
            .await
        })
    }

    fn purge_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let now = now_millis(SystemTime::now());
            let mut total = 0;
            // One batch per lock hold, so inserts from this process interleave with a long purge.
            loop {
                let purged = self
                    .with_connection(move |connection| purge_batch_on(connection, now))
                    .await?;
                total += purged;
                if purged < PURGE_BATCH.unsigned_abs() {
                    return Ok(total);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteReplayStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteReplayStore::open(dir.path().join("replay.db")).unwrap();
        (dir, store)
    }

    fn insert(store: &SqliteReplayStore, nonce: &str, expires: i64, now: i64) -> Freshness {
        let connection = store.connection.lock().unwrap();
        check_and_insert_on(&connection, "did:a", nonce, expires, now).unwrap()
    }

    fn expires_at(store: &SqliteReplayStore, nonce: &str) -> i64 {
        let connection = store.connection.lock().unwrap();
        connection
            .query_row(
                "SELECT expires_at FROM replay WHERE signer = 'did:a' AND nonce = ?1",
                [nonce],
                |row| row.get(0),
            )
            .unwrap()
    }

    #[test]
    fn an_expired_row_is_revived_with_the_new_expiry() {
        let (_dir, store) = store();
        assert_eq!(insert(&store, "n1", 100, 0), Freshness::Fresh);
        assert_eq!(insert(&store, "n1", 500, 50), Freshness::Replayed);
        assert_eq!(
            expires_at(&store, "n1"),
            100,
            "a replay must not extend the entry"
        );
        // Live at exactly its expiry, expired a millisecond later.
        assert_eq!(insert(&store, "n1", 500, 100), Freshness::Replayed);
        assert_eq!(insert(&store, "n1", 500, 101), Freshness::Fresh);
        assert_eq!(expires_at(&store, "n1"), 500);
        assert_eq!(insert(&store, "n1", 900, 200), Freshness::Replayed);
    }

    #[test]
    fn purge_deletes_expired_rows_in_batches() {
        let (_dir, store) = store();
        let rows = PURGE_BATCH + 7;
        {
            let mut connection = store.connection.lock().unwrap();
            let tx = connection.transaction().unwrap();
            for i in 0..rows {
                let inserted = check_and_insert_on(&tx, "did:a", &format!("old{i}"), 10, 0);
                assert_eq!(inserted.unwrap(), Freshness::Fresh);
            }
            let inserted = check_and_insert_on(&tx, "did:a", "live", 1_000, 0);
            assert_eq!(inserted.unwrap(), Freshness::Fresh);
            tx.commit().unwrap();
        }
        let connection = store.connection.lock().unwrap();
        assert_eq!(
            purge_batch_on(&connection, 11).unwrap(),
            PURGE_BATCH.unsigned_abs()
        );
        assert_eq!(purge_batch_on(&connection, 11).unwrap(), 7);
        assert_eq!(purge_batch_on(&connection, 11).unwrap(), 0);
        let left: i64 = connection
            .query_row("SELECT count(*) FROM replay", [], |row| row.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }
}
