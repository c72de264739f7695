//! One iteration of each flow: which partition and resource, and the acquisition itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_authority::{Authority, User, UserAssertion};
use tokencache::client::{AccountId, AcquireError, AcquireOptions, AuthResult, ConfidentialClient};
use tokencache::SharedClock;

use super::authority::EMBEDDED_BASE;
use super::signin::{SignIns, UserState, REDIRECT_URI};
use crate::scenario::model::FlowSpec;

/// Tenant `i`'s name (the mock accepts any tenant).
pub fn tenant(i: u64) -> String {
    format!("tenant-{i:06}")
}

/// Upstream assertions of OBO callers, minted by the embedded mock and renewed when they
/// run out (one partition per assertion).
#[derive(Debug)]
pub struct Assertions {
    mock: Arc<Authority>,
    clock: SharedClock,
    audience: String,
    lifetime: Duration,
    by_user: Mutex<HashMap<u64, (Arc<str>, u64)>>,
}

impl Assertions {
    pub fn new(
        mock: Arc<Authority>,
        clock: SharedClock,
        audience: &str,
        lifetime: Duration,
    ) -> Self {
        Assertions {
            mock,
            clock,
            audience: audience.to_owned(),
            lifetime,
            by_user: Mutex::new(HashMap::new()),
        }
    }

    /// The user's current assertion; minted under the lock, so concurrent first requests
    /// of one user (e.g. for two resources during populate) share one assertion and so one
    /// partition.
    fn get(&self, user: u64, tenant: &str) -> Result<Arc<str>, String> {
        let now = self.clock.now_millis();
        let mut by_user = self.by_user.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((a, exp)) = by_user.get(&user) {
            if *exp > now {
                return Ok(a.clone());
            }
        }
        let who = UserAssertion {
            user: User::derived(&format!("user{user}@{tenant}.mock"), tenant),
            audience: self.audience.clone(),
            client_id: "upstream-spa".into(),
            scp: "access_as_user".into(),
            lifetime_s: self.lifetime.as_secs().max(1),
        };
        let a: Arc<str> = Arc::from(
            self.mock
                .mint_user_assertion(&who, EMBEDDED_BASE)
                .map_err(|e| format!("minting an assertion: {e}"))?,
        );
        by_user.insert(user, (a.clone(), now + self.lifetime.as_millis() as u64));
        Ok(a)
    }
}

/// What an iteration needs besides its picked index.
#[derive(Debug)]
pub struct FlowCtx {
    pub spec: FlowSpec,
    pub client: ConfidentialClient,
    pub assertions: Option<Assertions>,
    pub sign_ins: Option<SignIns>,
}

/// An iteration failed.
#[derive(Debug)]
pub enum IterError {
    Acquire(AcquireError),
    Setup(String),
}

impl FlowCtx {
    /// Runs the acquisition for population member `i`.
    pub async fn acquire(&self, i: u64) -> Result<AuthResult, IterError> {
        let opts = AcquireOptions::default();
        match &self.spec {
            FlowSpec::ClientCredentials { resources, .. } => {
                let r = resources.len() as u64;
                let t = tenant(i / r);
                let scope = resources[(i % r) as usize].as_str();
                self.client
                    .acquire_token_for_client(&t, &[scope], &opts)
                    .await
                    .map_err(IterError::Acquire)
            }
            FlowSpec::OnBehalfOf {
                resources, tenants, ..
            } => {
                let r = resources.len() as u64;
                let user = i / r;
                let t = tenant(user % tenants);
                let scope = resources[(i % r) as usize].as_str();
                let a = self
                    .assertions
                    .as_ref()
                    .ok_or_else(|| IterError::Setup("no assertion source".into()))?
                    .get(user, &t)
                    .map_err(IterError::Setup)?;
                self.client
                    .acquire_token_on_behalf_of(&t, &a, &[scope], None, &opts)
                    .await
                    .map_err(IterError::Acquire)
            }
            FlowSpec::WebApp {
                resources, tenants, ..
            } => {
                let r = resources.len() as u64;
                let user = i / r;
                let scope = resources[(i % r) as usize].as_str();
                self.web_app(user, &tenant(user % tenants), scope, &opts)
                    .await
            }
        }
    }
}

impl FlowCtx {
    /// Signs `user` in if needed (with `state` locked by the caller). Returns the account and,
    /// when this call signed in, the code redemption's result (that is an acquisition).
    pub async fn ensure_signed_in(
        &self,
        state: &mut UserState,
        user: u64,
        tenant: &str,
        scope: &str,
    ) -> Result<(AccountId, Option<AuthResult>), IterError> {
        if let Some(a) = &state.account {
            return Ok((a.clone(), None));
        }
        let sign_ins = self
            .sign_ins
            .as_ref()
            .ok_or_else(|| IterError::Setup("no sign-in source".into()))?;
        let code = sign_ins
            .code(user, tenant, self.client.client_id(), scope)
            .map_err(IterError::Setup)?;
        let r = self
            .client
            .acquire_token_by_authorization_code(tenant, &code, REDIRECT_URI, &[scope])
            .await
            .map_err(IterError::Acquire)?;
        let account = r
            .account
            .clone()
            .ok_or_else(|| IterError::Setup("code redemption returned no account".into()))?;
        state.account = Some(account.clone());
        Ok((account, Some(r)))
    }

    /// Without sessions: a user's first iteration signs in (authorization code; that is its
    /// acquisition); later ones are silent.
    async fn web_app(
        &self,
        user: u64,
        tenant: &str,
        scope: &str,
        opts: &AcquireOptions,
    ) -> Result<AuthResult, IterError> {
        let sign_ins = self
            .sign_ins
            .as_ref()
            .ok_or_else(|| IterError::Setup("no sign-in source".into()))?;
        let state = sign_ins.state(user);
        let (account, signed_in) = {
            let mut st = state.lock().await;
            self.ensure_signed_in(&mut st, user, tenant, scope).await?
        };
        match signed_in {
            Some(r) => Ok(r),
            None => self
                .client
                .acquire_token_silent(&account, &[scope], opts)
                .await
                .map_err(IterError::Acquire),
        }
    }
}
