//! Write-behind (async) L2 writes: the latest blob per key is queued and written by a
//! background task; `flush` waits until everything queued has been written or given up on.
//! Writes to one key coalesce (each blob is the whole partition, so only the newest matters).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

/// A queued write: the namespaced key, the partition key (for reporting), the blob and its TTL.
#[derive(Debug, Clone)]
pub(crate) struct PendingWrite {
    pub partition_key: String,
    pub blob: Bytes,
    pub ttl: Option<Duration>,
}

#[derive(Debug, Default)]
pub(crate) struct WriteBehind {
    pending: Mutex<HashMap<String, PendingWrite>>,
    /// Writes taken from `pending` and not finished yet.
    in_flight: AtomicU64,
    wake: Notify,
    idle: Notify,
    closed: AtomicBool,
}

impl WriteBehind {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingWrite>> {
        // A panic while holding this lock cannot leave the map inconsistent: recover it.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn enqueue(&self, l2_key: String, write: PendingWrite) {
        self.lock().insert(l2_key, write);
        self.wake.notify_one();
    }

    /// The newest queued blob for a key, so reads see acknowledged writes before they land.
    pub(crate) fn pending_blob(&self, l2_key: &str) -> Option<Bytes> {
        self.lock().get(l2_key).map(|w| w.blob.clone())
    }

    pub(crate) fn cancel(&self, l2_key: &str) {
        self.lock().remove(l2_key);
    }

    pub(crate) fn queued(&self) -> u64 {
        self.lock().len() as u64 + self.in_flight.load(Ordering::SeqCst)
    }

    /// Takes everything queued (the worker then writes it).
    pub(crate) fn take_batch(&self) -> Vec<(String, PendingWrite)> {
        let mut map = self.lock();
        self.in_flight.fetch_add(map.len() as u64, Ordering::SeqCst);
        map.drain().collect()
    }

    pub(crate) fn done(&self, n: u64) {
        self.in_flight.fetch_sub(n, Ordering::SeqCst);
        if self.queued() == 0 {
            self.idle.notify_waiters();
        }
    }

    pub(crate) async fn wait_for_work(&self) {
        if self.lock().is_empty() {
            self.wake.notified().await;
        }
    }

    /// Waits until nothing is queued or in flight.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.queued() == 0 {
                return;
            }
            self.wake.notify_one();
            // Re-check periodically in case a notification raced.
            let _ = tokio::time::timeout(Duration::from_millis(50), idle).await;
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}
