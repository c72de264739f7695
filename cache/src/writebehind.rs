//! Write-behind (async) L2 writes: the latest blob per key is queued and written by a
//! background task; `flush` waits until everything queued has been written or given up on.
//! Writes to one key coalesce (each blob is the whole partition, so only the newest matters).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
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
struct Queues {
    pending: HashMap<String, PendingWrite>,
    /// Taken by the worker and not finished: still visible to reads until written.
    in_flight: HashMap<String, PendingWrite>,
}

#[derive(Debug, Default)]
pub(crate) struct WriteBehind {
    queues: Mutex<Queues>,
    wake: Notify,
    idle: Notify,
    closed: AtomicBool,
}

impl WriteBehind {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        // A panic while holding this lock cannot leave the maps inconsistent: recover it.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn enqueue(&self, l2_key: String, write: PendingWrite) {
        self.lock().pending.insert(l2_key, write);
        self.wake.notify_one();
    }

    /// The newest acknowledged blob for a key that has not landed yet, so reads see it.
    pub(crate) fn pending_blob(&self, l2_key: &str) -> Option<Bytes> {
        let q = self.lock();
        q.pending
            .get(l2_key)
            .or_else(|| q.in_flight.get(l2_key))
            .map(|w| w.blob.clone())
    }

    pub(crate) fn cancel(&self, l2_key: &str) {
        self.lock().pending.remove(l2_key);
    }

    pub(crate) fn queued(&self) -> u64 {
        let q = self.lock();
        (q.pending.len() + q.in_flight.len()) as u64
    }

    /// Takes everything queued (the worker then writes it and calls [`Self::done`]).
    pub(crate) fn take_batch(&self) -> Vec<(String, PendingWrite)> {
        let mut q = self.lock();
        let batch: Vec<(String, PendingWrite)> = q.pending.drain().collect();
        for (k, w) in &batch {
            q.in_flight.insert(k.clone(), w.clone());
        }
        batch
    }

    /// One write of the batch finished (written or given up on).
    pub(crate) fn done(&self, l2_key: &str) {
        let idle = {
            let mut q = self.lock();
            q.in_flight.remove(l2_key);
            q.pending.is_empty() && q.in_flight.is_empty()
        };
        if idle {
            self.idle.notify_waiters();
        }
    }

    pub(crate) async fn wait_for_work(&self) {
        if self.lock().pending.is_empty() {
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
