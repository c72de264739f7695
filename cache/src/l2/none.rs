//! `none`: an L2 that holds nothing (L1 only, or no cache at all when L1 is disabled too).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{L2Error, L2Store, L2Usage};

/// Stores nothing; every read is a miss and every write succeeds.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoneStore;

#[async_trait]
impl L2Store for NoneStore {
    fn name(&self) -> &'static str {
        "none"
    }
    async fn get(&self, _key: &str, _slide: Option<Duration>) -> Result<Option<Bytes>, L2Error> {
        Ok(None)
    }
    async fn set(&self, _key: &str, _value: Bytes, _ttl: Option<Duration>) -> Result<(), L2Error> {
        Ok(())
    }
    async fn remove(&self, _key: &str) -> Result<(), L2Error> {
        Ok(())
    }
    async fn usage(&self, _prefix: &str) -> Result<L2Usage, L2Error> {
        Ok(L2Usage {
            method: "none",
            ..L2Usage::default()
        })
    }
    async fn list_keys(&self, _prefix: &str, _limit: usize) -> Result<Vec<String>, L2Error> {
        Ok(Vec::new())
    }
}
