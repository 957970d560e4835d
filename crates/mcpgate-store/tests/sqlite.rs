//! The SQLite replay store on a real file, with two stores standing in for two gateway
//! processes.

#![cfg(feature = "sqlite")]
#![cfg_attr(
    feature = "sqlite",
    expect(clippy::unwrap_used, reason = "test helpers fail loudly")
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcpgate_store::{Freshness, ReplayStore, SqliteReplayStore, StoreError};

fn soon() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn two_stores_on_one_file_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.db");
    let first = SqliteReplayStore::open(&path).unwrap();
    let second = SqliteReplayStore::open(&path).unwrap();
    assert_eq!(first.name(), "sqlite");

    assert_eq!(
        first.check_and_insert("did:a", "n1", soon()).await,
        Ok(Freshness::Fresh)
    );
    assert_eq!(
        second.check_and_insert("did:a", "n1", soon()).await,
        Ok(Freshness::Replayed)
    );
    assert_eq!(
        second.check_and_insert("did:b", "n1", soon()).await,
        Ok(Freshness::Fresh)
    );
    assert_eq!(
        first.check_and_insert("did:b", "n1", soon()).await,
        Ok(Freshness::Replayed)
    );
    // A pair survives closing and reopening the file.
    drop(first);
    drop(second);
    let reopened = SqliteReplayStore::open(&path).unwrap();
    assert_eq!(
        reopened.check_and_insert("did:a", "n1", soon()).await,
        Ok(Freshness::Replayed)
    );
    // Nothing has expired yet.
    assert_eq!(reopened.purge_expired().await, Ok(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_from_two_stores_admit_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.db");
    let stores: [Arc<dyn ReplayStore>; 2] = [
        Arc::new(SqliteReplayStore::open(&path).unwrap()),
        Arc::new(SqliteReplayStore::open(&path).unwrap()),
    ];
    for round in 0..20 {
        let nonce = format!("race-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = Arc::clone(&stores[i % 2]);
                let barrier = Arc::clone(&barrier);
                let nonce = nonce.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.check_and_insert("did:racer", &nonce, soon()).await
                })
            })
            .collect();
        let mut fresh = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(Freshness::Fresh) => fresh += 1,
                Ok(Freshness::Replayed) => {}
                Err(error) => panic!("store error in round {round}: {error}"),
            }
        }
        assert_eq!(fresh, 1, "round {round}");
    }
}

#[tokio::test]
async fn past_expiry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteReplayStore::open(dir.path().join("replay.db")).unwrap();
    assert_eq!(
        store
            .check_and_insert("did:a", "n1", SystemTime::now() - Duration::from_secs(1))
            .await,
        Err(StoreError::InvalidExpiry)
    );
    // Refused, not recorded: a later valid attempt is fresh.
    assert_eq!(
        store.check_and_insert("did:a", "n1", soon()).await,
        Ok(Freshness::Fresh)
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_opened_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let error =
        SqliteReplayStore::open(dir.path().join("missing-dir").join("replay.db")).unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(error.to_string().contains("missing-dir"), "{error}");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.db");
    std::fs::write(
        &path,
        b"this is not a sqlite database, just some bytes that fill a page",
    )
    .unwrap();
    let error = SqliteReplayStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_holding_the_lock_makes_the_store_unavailable_not_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.db");
    let store = SqliteReplayStore::open(&path).unwrap();
    // Another "process" takes the write lock and keeps it past the busy timeout.
    let mut other = rusqlite_connection(&path);
    let tx = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let started = std::time::Instant::now();
    let result = store.check_and_insert("did:a", "n1", soon()).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    tx.rollback().unwrap();
    assert_eq!(
        store.check_and_insert("did:a", "n1", soon()).await,
        Ok(Freshness::Fresh)
    );
}

fn rusqlite_connection(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}
