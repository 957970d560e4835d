//! Cost of one `check_and_insert` on each replay store, through `Arc<dyn ReplayStore>` as the
//! gateway calls it.
//!
//! * `*/fresh`    — a new pair every iteration: the path every admitted message takes.
//! * `*/replayed` — the same pair every iteration: the path a replay takes.
//!
//! SQLite runs on a file in a temporary directory (WAL, `synchronous = NORMAL`); Redis is the
//! server at 127.0.0.1:6379 over TCP, under a random key prefix deleted at the end (the group is
//! skipped, with a message, if that server is not running). Iterations are bounded by a short
//! measurement time and a small sample count.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use mcpgate_store::{
    Freshness, MemoryReplayStore, RedisReplayStore, ReplayStore, SqliteReplayStore,
};
use redis::AsyncCommands as _;

const REDIS: &str = "redis://127.0.0.1:6379";
const SIGNER: &str = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";

fn benches(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    else {
        eprintln!("cannot start a tokio runtime");
        return;
    };

    // Short-lived entries keep the memory store well under its capacity however many
    // iterations criterion runs; they are purged lazily as in production.
    let memory: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::new(1 << 22));
    bench_store(c, &runtime, &memory, Duration::from_millis(200));

    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("cannot create a temporary directory");
        return;
    };
    match SqliteReplayStore::open(dir.path().join("replay.db")) {
        Ok(sqlite) => {
            let sqlite: Arc<dyn ReplayStore> = Arc::new(sqlite);
            bench_store(c, &runtime, &sqlite, Duration::from_secs(60));
        }
        Err(error) => eprintln!("skipping sqlite: {error}"),
    }

    let prefix = format!("mcpgate-bench:{:016x}", rand::random::<u64>());
    match runtime.block_on(RedisReplayStore::connect(REDIS, &prefix)) {
        Ok(redis) => {
            let redis: Arc<dyn ReplayStore> = Arc::new(redis);
            bench_store(c, &runtime, &redis, Duration::from_secs(60));
            runtime.block_on(delete_prefix(&prefix));
        }
        Err(error) => eprintln!("skipping redis: {error}"),
    }
}

fn bench_store(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    store: &Arc<dyn ReplayStore>,
    keep_for: Duration,
) {
    let mut group = c.benchmark_group(store.name());
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));

    let counter = AtomicU64::new(0);
    let not_fresh = AtomicU64::new(0);
    group.bench_function("fresh", |b| {
        b.to_async(runtime).iter(|| async {
            let nonce = format!("n{:020}", counter.fetch_add(1, Ordering::Relaxed));
            let result = store
                .check_and_insert(SIGNER, &nonce, SystemTime::now() + keep_for)
                .await;
            if result != Ok(Freshness::Fresh) {
                not_fresh.fetch_add(1, Ordering::Relaxed);
            }
            black_box(result)
        });
    });
    let not_fresh = not_fresh.into_inner();
    if not_fresh > 0 {
        eprintln!(
            "{}: {not_fresh} of {} new pairs were not fresh; the numbers are not valid",
            store.name(),
            counter.into_inner()
        );
    }

    let expires_at = SystemTime::now() + Duration::from_secs(300);
    let _ = runtime.block_on(store.check_and_insert(SIGNER, "replayed", expires_at));
    group.bench_function("replayed", |b| {
        b.to_async(runtime).iter(|| async {
            black_box(store.check_and_insert(SIGNER, "replayed", expires_at).await)
        });
    });
    group.finish();
}

async fn delete_prefix(prefix: &str) {
    let Ok(client) = redis::Client::open(REDIS) else {
        return;
    };
    let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let mut keys = Vec::new();
    if let Ok(mut iter) = connection
        .scan_match::<_, String>(format!("{prefix}:*"))
        .await
    {
        while let Some(Ok(key)) = iter.next_item().await {
            keys.push(key);
        }
    }
    for chunk in keys.chunks(1_000) {
        let _: Result<(), _> = connection.del(chunk).await;
    }
}

criterion_group!(replay, benches);
criterion_main!(replay);
