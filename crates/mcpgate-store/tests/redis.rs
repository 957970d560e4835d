//! The Redis replay store against the real Redis server at 127.0.0.1:6379.
//!
//! These tests need that server: if it is down they fail, they do not skip (CI starts it). Each
//! test works under its own random key prefix, deletes its keys at the end, and writes only keys
//! that expire within a minute, so an aborted run leaves nothing behind for long.

#![cfg(feature = "redis")]
#![cfg_attr(
    feature = "redis",
    expect(
        clippy::unwrap_used,
        clippy::panic,
        reason = "test helpers fail loudly"
    )
)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mcpgate_store::{Freshness, RedisReplayStore, RedisTimeouts, ReplayStore, StoreError};
use rand::Rng as _;
use redis::AsyncCommands as _;

const REDIS: &str = "redis://127.0.0.1:6379";

fn soon() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn unique_prefix() -> String {
    format!("mcpgate-test:{:016x}", rand::rng().random::<u64>())
}

async fn connect(prefix: &str) -> RedisReplayStore {
    RedisReplayStore::connect(REDIS, prefix)
        .await
        .unwrap_or_else(|error| panic!("the test redis at {REDIS} must be running: {error}"))
}

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(REDIS)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Deletes every key under `prefix`; returns how many there were.
async fn cleanup(prefix: &str) -> usize {
    let mut connection = raw().await;
    let keys: Vec<String> = {
        let mut iter = connection
            .scan_match::<_, String>(format!("{prefix}:*"))
            .await
            .unwrap();
        let mut keys = Vec::new();
        while let Some(key) = futures_next(&mut iter).await {
            keys.push(key);
        }
        keys
    };
    if !keys.is_empty() {
        let _: () = connection.del(&keys).await.unwrap();
    }
    keys.len()
}

async fn futures_next(iter: &mut redis::AsyncIter<'_, String>) -> Option<String> {
    iter.next_item().await.transpose().unwrap()
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn fresh_then_replayed_with_the_expiry_set_in_redis() {
    let prefix = unique_prefix();
    let store = connect(&prefix).await;
    assert_eq!(store.name(), "redis");

    let expires_at = SystemTime::now() + Duration::from_secs(30);
    assert_eq!(
        store.check_and_insert("did:a", "n1", expires_at).await,
        Ok(Freshness::Fresh)
    );
    assert_eq!(
        store.check_and_insert("did:a", "n1", expires_at).await,
        Ok(Freshness::Replayed)
    );
    assert_eq!(
        store.check_and_insert("did:b", "n1", expires_at).await,
        Ok(Freshness::Fresh)
    );

    // The key is hashed, lives under the prefix and expires when the entry does.
    let key = store.key("did:a", "n1");
    assert!(key.starts_with(&format!("{prefix}:")));
    assert!(!key.contains("did:a"));
    let ttl: i64 = raw().await.pttl(&key).await.unwrap();
    assert!((29_000..=30_010).contains(&ttl), "pttl {ttl}");
    // A replay does not extend the entry.
    let again: i64 = raw().await.pttl(&key).await.unwrap();
    assert!(again <= ttl);

    // Redis has no purge to do.
    assert_eq!(store.purge_expired().await, Ok(0));
    assert_eq!(cleanup(&prefix).await, 2);
}

#[tokio::test]
async fn an_expired_entry_no_longer_counts() {
    let prefix = unique_prefix();
    let store = connect(&prefix).await;
    let expires_at = SystemTime::now() + Duration::from_millis(50);
    assert_eq!(
        store.check_and_insert("did:a", "n1", expires_at).await,
        Ok(Freshness::Fresh)
    );
    // Wait for Redis to expire the key (polled, bounded), then the pair is fresh again.
    let key = store.key("did:a", "n1");
    let mut connection = raw().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let exists: bool = connection.exists(&key).await.unwrap();
        if !exists {
            break;
        }
        assert!(Instant::now() < deadline, "redis did not expire the key");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        store.check_and_insert("did:a", "n1", soon()).await,
        Ok(Freshness::Fresh)
    );
    cleanup(&prefix).await;
}

#[tokio::test]
async fn signers_and_nonces_cannot_collide_or_escape_the_prefix() {
    let prefix = unique_prefix();
    let store = connect(&prefix).await;
    let pairs = [
        ("a:b", "c"),
        ("a", "b:c"),
        ("*", "*"),
        ("", ""),
        ("did:web:x\r\nFLUSHALL", "n"),
        ("did:a", "n\u{0}"),
    ];
    for (signer, nonce) in pairs {
        assert_eq!(
            store.check_and_insert(signer, nonce, soon()).await,
            Ok(Freshness::Fresh),
            "{signer:?} {nonce:?}"
        );
    }
    for (signer, nonce) in pairs {
        assert_eq!(
            store.check_and_insert(signer, nonce, soon()).await,
            Ok(Freshness::Replayed),
            "{signer:?} {nonce:?}"
        );
    }
    assert_eq!(cleanup(&prefix).await, pairs.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_racing_on_one_nonce_admit_exactly_one() {
    let prefix = unique_prefix();
    // Two stores, two independent connections: two gateway processes.
    let stores: [Arc<dyn ReplayStore>; 2] = [
        Arc::new(connect(&prefix).await),
        Arc::new(connect(&prefix).await),
    ];
    for round in 0..50 {
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
    assert_eq!(cleanup(&prefix).await, 50);
}

#[tokio::test]
async fn past_expiry_is_refused_and_not_stored() {
    let prefix = unique_prefix();
    let store = connect(&prefix).await;
    assert_eq!(
        store
            .check_and_insert("did:a", "n1", SystemTime::now() - Duration::from_millis(1))
            .await,
        Err(StoreError::InvalidExpiry)
    );
    assert_eq!(cleanup(&prefix).await, 0);
}

#[tokio::test]
async fn a_closed_port_is_unavailable_quickly() {
    let url = format!("redis://gateway:hunter2-secret@127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let error = RedisReplayStore::connect(&url, "mcpgate-test")
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!message.contains("gateway@"), "{message}");
}

#[tokio::test]
async fn a_stalled_server_is_unavailable_never_fresh() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeouts = RedisTimeouts {
        connect: Duration::from_millis(300),
        response: Duration::from_millis(300),
    };
    let started = Instant::now();
    let url = format!("redis://127.0.0.1:{port}");
    let result = match RedisReplayStore::connect_with(&url, "mcpgate-test", timeouts).await {
        // The handshake may be answered by nothing and time out...
        Err(error) => Err(error),
        // ...or there may be none, and the first command times out.
        Ok(store) => store.check_and_insert("did:a", "n1", soon()).await,
    };
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    server.abort();
}

#[tokio::test]
async fn a_redis_that_goes_away_makes_the_store_unavailable() {
    // A relay between the store and the real Redis, which the test can cut.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let relay = tokio::spawn(async move {
        let mut pipes = tokio::task::JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            pipes.spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect("127.0.0.1:6379").await?;
                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await
            });
        }
    });
    let prefix = unique_prefix();
    let timeouts = RedisTimeouts {
        connect: Duration::from_millis(500),
        response: Duration::from_millis(500),
    };
    let store =
        RedisReplayStore::connect_with(&format!("redis://127.0.0.1:{port}"), &prefix, timeouts)
            .await
            .unwrap();
    assert_eq!(
        store.check_and_insert("did:a", "n1", soon()).await,
        Ok(Freshness::Fresh)
    );

    // Cut the relay: the listener and every open pipe go.
    relay.abort();
    let _ = relay.await;
    for nonce in ["n1", "n2", "n3"] {
        let started = Instant::now();
        let result = store.check_and_insert("did:a", nonce, soon()).await;
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{nonce}: {result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(cleanup(&prefix).await, 1);
}

#[tokio::test]
async fn unusable_configuration_is_reported_without_secrets() {
    for (url, prefix) in [
        ("not a url", "p"),
        ("http://127.0.0.1:6379", "p"),
        ("rediss://user:topsecret@127.0.0.1:6379", "p"),
        (REDIS, ""),
        (REDIS, "bad prefix"),
    ] {
        let error = RedisReplayStore::connect(url, prefix).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Config(_)),
            "{url} {prefix:?}: {error:?}"
        );
        assert!(!error.to_string().contains("topsecret"), "{error}");
    }
}

#[tokio::test]
async fn wrong_credentials_are_unavailable_without_echoing_them() {
    let url = "redis://nobody-here:wrong-password-42@127.0.0.1:6379";
    let error = RedisReplayStore::connect(url, "mcpgate-test")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains("wrong-password-42"), "{error}");
}
