//! `FaultyStore`: wraps any store and injects failures on demand (errors, hangs, delays).
//! The fake beside the real stores, for tests and for outage scenarios in the load generator.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{L2Error, L2Op, L2Store, L2Usage};

/// What the wrapped store does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Pass through.
    None = 0,
    /// Every operation fails at once.
    Error = 1,
    /// Every operation hangs (until the caller's timeout).
    Hang = 2,
    /// Only writes and removes fail.
    WritesFail = 3,
}

/// A store whose behaviour can be switched at run time.
#[derive(Debug, Clone)]
pub struct FaultyStore {
    inner: Arc<dyn L2Store>,
    fault: Arc<AtomicU8>,
    calls: Arc<AtomicU64>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn L2Store>) -> Self {
        FaultyStore {
            inner,
            fault: Arc::new(AtomicU8::new(Fault::None as u8)),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// Operations attempted on this store (including failed ones).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn gate(&self, op: L2Op) -> Result<(), L2Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let fault = match self.fault.load(Ordering::SeqCst) {
            1 => Fault::Error,
            2 => Fault::Hang,
            3 => Fault::WritesFail,
            _ => Fault::None,
        };
        match fault {
            Fault::None => Ok(()),
            Fault::Error => Err(L2Error::backend(self.name(), op, "injected fault")),
            Fault::WritesFail if op != L2Op::Get => {
                Err(L2Error::backend(self.name(), op, "injected write fault"))
            }
            Fault::WritesFail => Ok(()),
            Fault::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(L2Error::backend(self.name(), op, "injected hang ended"))
            }
        }
    }
}

#[async_trait]
impl L2Store for FaultyStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn get(&self, key: &str, slide: Option<Duration>) -> Result<Option<Bytes>, L2Error> {
        self.gate(L2Op::Get).await?;
        self.inner.get(key, slide).await
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), L2Error> {
        self.gate(L2Op::Set).await?;
        self.inner.set(key, value, ttl).await
    }
    async fn remove(&self, key: &str) -> Result<(), L2Error> {
        self.gate(L2Op::Remove).await?;
        self.inner.remove(key).await
    }
    async fn usage(&self, prefix: &str) -> Result<L2Usage, L2Error> {
        self.inner.usage(prefix).await
    }
    async fn list_keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>, L2Error> {
        self.gate(L2Op::Get).await?;
        self.inner.list_keys(prefix, limit).await
    }
}
