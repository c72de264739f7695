//! Web-app users: a user signs in through the embedded mock's authorize endpoint (a code
//! for a test user, no interaction), the code is redeemed by the confidential client, and
//! the account is kept for silent acquisitions until the user signs out. A user's state is
//! behind an async lock, so concurrent first uses share one sign-in and a sign-out (which
//! removes the account's partition) never overlaps another session's sign-in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mock_authority::Authority;
use tokencache::client::AccountId;
use tokio::sync::Mutex as AsyncMutex;

/// Where the mock sends the browser back (never called: the code is read from it).
pub const REDIRECT_URI: &str = "https://app.embedded.mock/signin-oidc";

/// One user's sign-in state.
#[derive(Debug, Default)]
pub struct UserState {
    /// Signed in as this account.
    pub account: Option<AccountId>,
    /// Sessions of this user running now.
    pub active: usize,
}

/// Users by index.
#[derive(Debug)]
pub struct SignIns {
    mock: Arc<Authority>,
    by_user: Mutex<HashMap<u64, Arc<AsyncMutex<UserState>>>>,
}

impl SignIns {
    pub fn new(mock: Arc<Authority>) -> Self {
        SignIns {
            mock,
            by_user: Mutex::new(HashMap::new()),
        }
    }

    /// User `u`'s state.
    pub fn state(&self, user: u64) -> Arc<AsyncMutex<UserState>> {
        let mut m = self.by_user.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(user).or_default().clone()
    }

    /// Asks the mock's authorize endpoint for a code for user `u` of `tenant`.
    pub fn code(
        &self,
        user: u64,
        tenant: &str,
        client_id: &str,
        scope: &str,
    ) -> Result<String, String> {
        let login = format!("user{user}@{tenant}.mock");
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("scope", &format!("openid profile offline_access {scope}"))
            .append_pair("login_hint", &login)
            .finish();
        let reply = self.mock.authorize(tenant, &query);
        let location = reply.location.ok_or_else(|| {
            format!(
                "authorize answered {} without a redirect: {}",
                reply.status, reply.body
            )
        })?;
        let q = location.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| "authorize redirect carries no code".to_owned())
    }
}
