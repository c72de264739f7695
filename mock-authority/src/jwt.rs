//! Compact JWT decoding (assertions) and JSON string writing for claims built by hand.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{Map, Value};

/// A decoded, not yet verified JWT.
#[derive(Debug)]
pub struct DecodedJwt<'a> {
    /// Header claims.
    pub header: Map<String, Value>,
    /// Payload claims.
    pub claims: Map<String, Value>,
    /// `header.payload`, the signed bytes.
    pub signing_input: &'a str,
    /// The raw signature.
    pub signature: Vec<u8>,
}

impl DecodedJwt<'_> {
    /// A string claim.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim (integers or floats, as MSAL sends `exp` / `iat`).
    pub fn num_claim(&self, name: &str) -> Option<f64> {
        self.claims.get(name).and_then(Value::as_f64)
    }

    /// A string header field.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// True when `aud` (a string or an array) contains `expected`.
    pub fn audience_contains(&self, pred: impl Fn(&str) -> bool) -> bool {
        match self.claims.get("aud") {
            Some(Value::String(s)) => pred(s),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(pred),
            _ => false,
        }
    }
}

/// Splits and decodes `header.payload.signature`; `None` if it is not a well-formed JWT.
pub fn decode(token: &str) -> Option<DecodedJwt<'_>> {
    if token.len() > 32 * 1024 {
        return None;
    }
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = object(&B64.decode(h).ok()?)?;
    let claims = object(&B64.decode(p).ok()?)?;
    let signature = B64.decode(s).ok()?;
    Some(DecodedJwt {
        header,
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Appends `s` as a JSON string literal (with quotes), escaping only when needed.
pub fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // serde_json's string escaping cannot fail.
        out.push_str(&Value::from(s).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_jwt() {
        for t in [
            "",
            "a",
            "a.b",
            "a.b.c",
            "e30.e30",
            "e30.e30.!!",
            "e30.W10.AA",
            "e30.e30.AA.AA",
        ] {
            assert!(decode(t).is_none(), "{t}");
        }
        assert!(decode("e30.e30.AA").is_some());
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\n");
        assert_eq!(s, r#""a\"b\n""#);
    }
}
