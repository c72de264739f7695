//! Signing keys, parsed once at start-up: RS256 (RSA 2048) and ES256 (P-256), plus the JWKS.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::SetupError;

/// The algorithm access tokens are signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over RSA 2048, as Entra signs.
    #[default]
    RS256,
    /// ECDSA P-256 with SHA-256: an order of magnitude cheaper to sign.
    ES256,
}

impl SigningAlg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
        }
    }
}

/// Both key pairs, generated once; the JWKS publishes both.
pub struct SigningKeys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    rng: SystemRandom,
    rsa_kid: String,
    ec_kid: String,
    /// base64url of `{"alg":..,"typ":"JWT","kid":..}` per algorithm.
    rsa_header_b64: String,
    ec_header_b64: String,
    jwks: String,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("rsa_kid", &self.rsa_kid)
            .field("ec_kid", &self.ec_kid)
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// The process-wide key set, generated on first use (RSA 2048 generation takes a
    /// noticeable fraction of a second; every authority in a process shares one set).
    pub fn shared() -> Result<std::sync::Arc<Self>, SetupError> {
        static SHARED: std::sync::OnceLock<std::sync::Arc<SigningKeys>> =
            std::sync::OnceLock::new();
        if let Some(k) = SHARED.get() {
            return Ok(std::sync::Arc::clone(k));
        }
        let keys = std::sync::Arc::new(Self::generate()?);
        Ok(std::sync::Arc::clone(SHARED.get_or_init(|| keys)))
    }

    /// Generates an RSA 2048 and a P-256 key pair.
    pub fn generate() -> Result<Self, SetupError> {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| SetupError::Crypto("RSA key generation failed"))?;
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| SetupError::Crypto("P-256 key generation failed"))?;
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| SetupError::Crypto("P-256 key parse failed"))?;
        let rsa_kid = kid_of(rsa.public_key().as_ref());
        let ec_kid = kid_of(ec.public_key().as_ref());
        let header = |alg: &str, kid: &str| {
            B64.encode(format!(r#"{{"typ":"JWT","alg":"{alg}","kid":"{kid}"}}"#))
        };
        let rsa_pub = rsa.public_key();
        let n = B64.encode(rsa_pub.modulus().big_endian_without_leading_zero());
        let e = B64.encode(rsa_pub.exponent().big_endian_without_leading_zero());
        let point = ec.public_key().as_ref();
        let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
        let jwks = serde_json::json!({"keys": [
            {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": rsa_kid, "x5t": rsa_kid, "n": n, "e": e},
            {"kty": "EC", "use": "sig", "alg": "ES256", "kid": ec_kid, "crv": "P-256", "x": x, "y": y},
        ]})
        .to_string();
        Ok(Self {
            rsa_header_b64: header("RS256", &rsa_kid),
            ec_header_b64: header("ES256", &ec_kid),
            rsa,
            ec,
            rng,
            rsa_kid,
            ec_kid,
            jwks,
        })
    }

    /// The JWKS document (both keys).
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    /// The key id used for `alg`.
    pub fn kid(&self, alg: SigningAlg) -> &str {
        match alg {
            SigningAlg::RS256 => &self.rsa_kid,
            SigningAlg::ES256 => &self.ec_kid,
        }
    }

    /// Appends `header.payload.signature` to `out`, `payload` being the claims JSON.
    pub fn sign_jwt_into(
        &self,
        alg: SigningAlg,
        payload: &str,
        out: &mut String,
    ) -> Result<(), SignError> {
        let start = out.len();
        out.push_str(match alg {
            SigningAlg::RS256 => &self.rsa_header_b64,
            SigningAlg::ES256 => &self.ec_header_b64,
        });
        out.push('.');
        B64.encode_string(payload, out);
        let signing_input = &out.as_bytes()[start..];
        match alg {
            SigningAlg::ES256 => {
                let sig = self
                    .ec
                    .sign(&self.rng, signing_input)
                    .map_err(|_| SignError)?;
                out.push('.');
                B64.encode_string(sig.as_ref(), out);
            }
            SigningAlg::RS256 => {
                let mut sig = [0u8; 512];
                let len = self.rsa.public_modulus_len();
                self.rsa
                    .sign(&RSA_PKCS1_SHA256, &self.rng, signing_input, &mut sig[..len])
                    .map_err(|_| SignError)?;
                out.push('.');
                B64.encode_string(&sig[..len], out);
            }
        }
        Ok(())
    }

    /// Signs a JWT and returns it.
    pub fn sign_jwt(&self, alg: SigningAlg, payload: &str) -> Result<String, SignError> {
        let mut out = String::with_capacity(payload.len() * 4 / 3 + 512);
        self.sign_jwt_into(alg, payload, &mut out)?;
        Ok(out)
    }

    /// Verifies a compact JWT signed by one of these keys (selected by `kid`).
    /// Returns `None` when the kid is not ours, `Some(valid)` otherwise.
    pub fn verify_own(&self, kid: &str, signing_input: &[u8], sig: &[u8]) -> Option<bool> {
        if kid == self.ec_kid {
            let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.ec.public_key());
            Some(key.verify(signing_input, sig).is_ok())
        } else if kid == self.rsa_kid {
            let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, self.rsa.public_key());
            Some(key.verify(signing_input, sig).is_ok())
        } else {
            None
        }
    }
}

/// Signing failed (never expected with valid keys).
#[derive(Debug, thiserror::Error)]
#[error("signing failed")]
pub struct SignError;

/// A key id: base64url of the first 15 bytes of SHA-256 of the public key.
fn kid_of(public_key: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public_key);
    B64.encode(&d.as_ref()[..15])
}

/// Verifies an RS256 / PS256 signature against a SubjectPublicKeyInfo (client certificates).
pub fn verify_rsa_spki(alg: &str, spki: &[u8], signing_input: &[u8], sig: &[u8]) -> bool {
    let params: &dyn signature::VerificationAlgorithm = match alg {
        "RS256" => &RSA_PKCS1_2048_8192_SHA256,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        "ES256" => &ECDSA_P256_SHA256_FIXED,
        _ => return false,
    };
    if alg == "ES256" {
        // SPKI of an EC key: the point is the BIT STRING's content.
        return crate::der::spki_bit_string(spki).is_some_and(|point| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(signing_input, sig)
                .is_ok()
        });
    }
    params.verify_sig(spki, signing_input, sig).is_ok()
}
