//! Entra-style error responses: `error`, `error_description` starting with `AADSTSnnn:`,
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`.

use std::fmt::Write as _;

/// An OAuth error as Entra reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    /// HTTP status (400, or 401 for `invalid_client`).
    pub status: u16,
    /// OAuth `error`.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// Text after `AADSTSnnn: `.
    pub message: String,
}

impl EntraError {
    fn new(status: u16, error: &'static str, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    /// AADSTS900144: a required parameter is missing.
    pub fn missing(param: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    /// AADSTS9002313: the request is malformed.
    pub fn malformed(detail: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            9002313,
            format!("Invalid request. Request is malformed or invalid. {detail}"),
        )
    }

    /// AADSTS90002: unknown tenant.
    pub fn tenant_not_found(tenant: &str) -> Self {
        Self::new(400, "invalid_request", 90002, format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ))
    }

    /// AADSTS700016: unknown application.
    pub fn unknown_client(client_id: &str, tenant: &str) -> Self {
        Self::new(
            400,
            "unauthorized_client",
            700016,
            format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
        ),
        )
    }

    /// AADSTS7000215: wrong client secret.
    pub fn bad_secret(client_id: &str) -> Self {
        Self::new(401, "invalid_client", 7000215, format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        ))
    }

    /// AADSTS7000218: no credential.
    pub fn no_credential() -> Self {
        Self::new(401, "invalid_client", 7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
    }

    /// A client assertion problem (AADSTS700027 signature, 700024 time, 700021 issuer,
    /// 700212 audience, 50027 malformed).
    pub fn bad_client_assertion(code: u32, message: impl Into<String>) -> Self {
        Self::new(401, "invalid_client", code, message)
    }

    /// AADSTS70011: invalid scope.
    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(400, "invalid_scope", 70011, format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
        ))
    }

    /// AADSTS70003: unsupported grant type.
    pub fn unsupported_grant(grant: &str) -> Self {
        Self::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    /// An `invalid_grant` with the given AADSTS code (70000 bad code or token, 54005 code
    /// already redeemed, 70008 expired, 50173 revoked, 700082 refresh token expired,
    /// 50013 assertion audience, 500133 assertion time, 50027 malformed JWT).
    pub fn invalid_grant(code: u32, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", code, message)
    }

    /// A throttling or server error injected by a fault rule.
    pub fn injected(status: u16) -> Self {
        match status {
            429 => Self::new(429, "temporarily_unavailable", 50196,
                "The server terminated an operation because it encountered a client request loop. (injected fault: throttled)"),
            s if s >= 500 => Self::new(s, "temporarily_unavailable", 90033,
                "A transient error has occurred. Please try again. (injected fault)"),
            s => Self::new(s, "invalid_request", 90000, "Injected fault."),
        }
    }

    /// The JSON body; `now_millis` for the timestamp, ids for tracing.
    pub fn body(&self, now_millis: u64, trace_id: &str, correlation_id: &str) -> String {
        let ts = format_timestamp(now_millis);
        let description = format!(
            "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {ts}",
            self.code, self.message
        );
        serde_json::json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": "https://login.microsoftonline.com/error?code=".to_string() + &self.code.to_string(),
        })
        .to_string()
    }
}

/// `YYYY-MM-DD hh:mm:ssZ` (Entra's format) from Unix milliseconds.
pub fn format_timestamp(millis: u64) -> String {
    let secs = millis / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut s = String::with_capacity(20);
    let _ = write!(
        s,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_format() {
        assert_eq!(super::format_timestamp(0), "1970-01-01 00:00:00Z");
        assert_eq!(
            super::format_timestamp(1_795_320_000_000),
            "2026-11-22 04:00:00Z"
        );
    }
}
