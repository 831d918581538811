//! Credentials: the customer's private JWK, the `private_key_jwt` client
//! assertion signed with it, and DPoP proofs signed with a separate key.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use directory_core::http::url::Url;
use directory_core::http::ClientAssertionClaims;
use directory_core::{Error, ErrorKind, Result, SecretString};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a client assertion is valid. Okta refuses more than an hour;
/// five minutes leaves room for clock skew without a long replay window.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

/// The private key of the service app, parsed from a JWK (RSA or EC P-256).
///
/// `Debug` shows only the key id and algorithm; the key material is never
/// printed and is kept only in signer form.
#[derive(Clone)]
#[non_exhaustive]
pub struct PrivateJwk {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    public: Jwk,
}

/// The JWK fields we read. Private members stay in this struct only while
/// the signer is built.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    x: Option<String>,
    y: Option<String>,
    keys: Option<Vec<serde_json::Value>>,
}

const FIELD: &str = "private_jwk";

impl PrivateJwk {
    /// Parses a private JWK (a JSON object with `kty`, `kid` and the private
    /// members; a JWK Set holding exactly one key is accepted too).
    ///
    /// Errors name the field and the problem, never the key material.
    pub fn from_json(json: &str) -> Result<Self> {
        let raw: RawJwk = serde_json::from_str(json).map_err(|e| {
            Error::config(
                FIELD,
                format!(
                    "not a JSON Web Key (JSON error at line {} column {}); paste the \
                     private key JSON from the Okta app's 'Public Keys' section",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if let Some(keys) = raw.keys {
            return match keys.as_slice() {
                [one] => Self::from_json(&one.to_string()),
                _ => Err(Error::config(
                    FIELD,
                    format!(
                        "a JWK Set with {} keys; give exactly one private key",
                        keys.len()
                    ),
                )),
            };
        }
        let kid = raw
            .kid
            .clone()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                Error::config(FIELD, "the JWK has no `kid`; Okta needs it to pick the key")
            })?;
        match raw.kty.as_deref() {
            Some("RSA") => Self::rsa(kid, &raw),
            Some("EC") => Self::ec(kid, &raw),
            Some(other) => Err(Error::config(
                FIELD,
                format!("key type `{other}` is not supported; use an RSA or EC P-256 key"),
            )),
            None => Err(Error::config(FIELD, "the JWK has no `kty`")),
        }
    }

    fn rsa(kid: String, raw: &RawJwk) -> Result<Self> {
        if let Some(alg) = raw.alg.as_deref().filter(|a| *a != "RS256") {
            return Err(Error::config(
                FIELD,
                format!("alg `{alg}` is not supported for RSA keys; use RS256"),
            ));
        }
        let part = |name: &str, v: &Option<String>| -> Result<rsa::BigUint> {
            let v = v.as_deref().ok_or_else(|| missing_private(name))?;
            Ok(rsa::BigUint::from_bytes_be(&b64(name, v)?))
        };
        let (n, e) = (part("n", &raw.n)?, part("e", &raw.e)?);
        let d = part("d", &raw.d)?;
        let primes = vec![part("p", &raw.p)?, part("q", &raw.q)?];
        let key = rsa::RsaPrivateKey::from_components(n, e, d, primes)
            .map_err(|_| Error::config(FIELD, "the RSA key's numbers do not form a valid key"))?;
        key.validate()
            .map_err(|_| Error::config(FIELD, "the RSA key does not validate"))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|_| Error::config(FIELD, "the RSA key could not be encoded"))?;
        Self::finish(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_der(der.as_bytes()),
        )
    }

    fn ec(kid: String, raw: &RawJwk) -> Result<Self> {
        if raw.crv.as_deref() != Some("P-256") {
            return Err(Error::config(
                FIELD,
                format!(
                    "curve `{}` is not supported; use an EC key on P-256 (ES256)",
                    raw.crv.as_deref().unwrap_or("none")
                ),
            ));
        }
        let d = raw.d.as_deref().ok_or_else(|| missing_private("d"))?;
        let secret = p256::SecretKey::from_slice(&b64("d", d)?)
            .map_err(|_| Error::config(FIELD, "`d` is not a P-256 private key"))?;
        let der = secret
            .to_pkcs8_der()
            .map_err(|_| Error::config(FIELD, "the EC key could not be encoded"))?;
        let this = Self::finish(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_der(der.as_bytes()),
        )?;
        if let jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(p) = &this.public.algorithm {
            if raw.x.as_deref().is_some_and(|x| x != p.x)
                || raw.y.as_deref().is_some_and(|y| y != p.y)
            {
                return Err(Error::config(
                    FIELD,
                    "`x`/`y` do not belong to the private key `d`",
                ));
            }
        }
        Ok(this)
    }

    fn finish(kid: String, alg: Algorithm, key: EncodingKey) -> Result<Self> {
        let mut public = Jwk::from_encoding_key(&key, alg)
            .map_err(|_| Error::config(FIELD, "the public key could not be derived"))?;
        public.common.key_id = Some(kid.clone());
        Ok(Self {
            kid,
            alg,
            key,
            public,
        })
    }

    /// The key id (`kid`) sent in every assertion's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing algorithm: `RS256` for RSA keys, `ES256` for EC keys.
    pub fn algorithm(&self) -> &'static str {
        match self.alg {
            Algorithm::ES256 => "ES256",
            _ => "RS256",
        }
    }

    /// The public half as a JWK (what the Okta app's key list holds).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::to_value(&self.public).unwrap_or_default()
    }

    /// A fresh, signed `private_key_jwt` client assertion for `token_url`.
    pub(crate) fn client_assertion(
        &self,
        client_id: &str,
        token_url: &Url,
    ) -> Result<SecretString> {
        let claims = ClientAssertionClaims::new(client_id, token_url.as_str(), ASSERTION_LIFETIME);
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(SecretString::new)
            .map_err(|e| signing_failed("client assertion", e))
    }
}

impl fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateJwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn missing_private(name: &str) -> Error {
    Error::config(
        FIELD,
        format!(
            "the JWK lacks `{name}`; give the private key (with its private members), \
             not only the public key"
        ),
    )
}

fn b64(name: &str, v: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .map_err(|_| Error::config(FIELD, format!("`{name}` is not base64url")))
}

fn signing_failed(what: &str, e: jsonwebtoken::errors::Error) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!("could not sign the {what}"),
    )
    .with_source(e)
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The key that signs DPoP proofs: an EC P-256 key made for this provider,
/// separate from the client-auth key as Okta requires.
///
/// The key is parsed once and the JWS header (algorithm, type, public JWK)
/// encoded once: a proof is signed for every request, and re-parsing the key
/// each time doubled its cost.
pub(crate) struct DpopKey {
    signer: p256::ecdsa::SigningKey,
    /// base64url of `{"typ":"dpop+jwt","alg":"ES256","jwk":{...}}`.
    header_b64: String,
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    htm: &'a str,
    htu: String,
    iat: u64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

impl DpopKey {
    /// A new random P-256 key.
    pub(crate) fn generate() -> Result<Self> {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let der = secret
            .to_pkcs8_der()
            .map_err(|_| Error::new(ErrorKind::InvalidConfig, "could not encode the DPoP key"))?;
        let key = EncodingKey::from_ec_der(der.as_bytes());
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)
            .map_err(|e| signing_failed("DPoP key", e))?;
        jwk.common.key_algorithm = None;
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_string());
        header.jwk = Some(jwk);
        let header = serde_json::to_vec(&header).map_err(|_| {
            Error::new(ErrorKind::InvalidConfig, "could not encode the DPoP header")
        })?;
        Ok(Self {
            signer: p256::ecdsa::SigningKey::from(&secret),
            header_b64: URL_SAFE_NO_PAD.encode(header),
        })
    }

    /// A proof for one request: `htm`, `htu` (no query or fragment), a fresh
    /// `iat` and `jti`, the server's nonce if it gave one, and `ath` when an
    /// access token is presented. An ES256 JWS (RFC 7515 compact form, the
    /// signature as `r || s`).
    pub(crate) fn proof(
        &self,
        method: &str,
        url: &Url,
        nonce: Option<&str>,
        access_token: Option<&SecretString>,
    ) -> Result<String> {
        use p256::ecdsa::signature::Signer;
        let claims = ProofClaims {
            htm: method,
            htu: htu(url),
            iat: unix_now(),
            jti: uuid::Uuid::new_v4().to_string(),
            nonce,
            ath: access_token.map(|t| ath(t.expose_secret())),
        };
        let claims = serde_json::to_vec(&claims)
            .map_err(|_| Error::new(ErrorKind::InvalidConfig, "could not encode the DPoP proof"))?;
        let mut jws = format!("{}.{}", self.header_b64, URL_SAFE_NO_PAD.encode(claims));
        let signature: p256::ecdsa::Signature = self
            .signer
            .try_sign(jws.as_bytes())
            .map_err(|_| Error::new(ErrorKind::InvalidConfig, "could not sign the DPoP proof"))?;
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        Ok(jws)
    }
}

/// The `htu` of a request: its URL without query and fragment.
pub(crate) fn htu(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// `ath`: base64url(SHA-256(access token)).
pub(crate) fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_drops_query_and_fragment() {
        let url = Url::parse("https://acme.okta.com/api/v1/users?limit=200&after=00u5#x").unwrap();
        assert_eq!(htu(&url), "https://acme.okta.com/api/v1/users");
    }

    #[test]
    fn ath_matches_the_rfc_9449_example() {
        // RFC 9449 section 7.1: the access token and its `ath`.
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn dpop_proofs_carry_the_claims_and_a_fresh_jti() {
        let key = DpopKey::generate().unwrap();
        let url = Url::parse("https://acme.okta.com/api/v1/groups?after=1").unwrap();
        let token = SecretString::new("tok");
        let a = key.proof("GET", &url, Some("n1"), Some(&token)).unwrap();
        let b = key.proof("GET", &url, None, Some(&token)).unwrap();
        let claims = |p: &str| {
            jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(p)
                .unwrap()
                .claims
        };
        let (ca, cb) = (claims(&a), claims(&b));
        assert_eq!(ca["htm"], "GET");
        assert_eq!(ca["htu"], "https://acme.okta.com/api/v1/groups");
        assert_eq!(ca["nonce"], "n1");
        assert_eq!(ca["ath"], ath("tok"));
        assert!(cb.get("nonce").is_none());
        assert_ne!(ca["jti"], cb["jti"]);
        let header = jsonwebtoken::decode_header(&a).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        assert!(header.jwk.is_some());
    }

    /// The proof verifies as a server would verify it: jsonwebtoken's ES256
    /// check against the public JWK in the proof's header, and that JWK is
    /// the signing key's own public point (read from the key, not from the
    /// header this module encoded). A proof altered after signing fails.
    #[test]
    fn dpop_proofs_verify_against_the_public_jwk_they_carry() {
        use jsonwebtoken::{DecodingKey, Validation};

        let key = DpopKey::generate().unwrap();
        let url = Url::parse("https://acme.okta.com/api/v1/users?limit=200").unwrap();
        let token = SecretString::new("tok");
        let proof = key.proof("GET", &url, None, Some(&token)).unwrap();

        let header = jsonwebtoken::decode_header(&proof).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        let jwk = header.jwk.unwrap();
        let point = key.signer.verifying_key().to_encoded_point(false);
        let (x, y) = (point.x().unwrap(), point.y().unwrap());
        let public: serde_json::Value = serde_json::to_value(&jwk).unwrap();
        assert_eq!(public["kty"], "EC");
        assert_eq!(public["crv"], "P-256");
        assert_eq!(public["x"], URL_SAFE_NO_PAD.encode(x));
        assert_eq!(public["y"], URL_SAFE_NO_PAD.encode(y));
        assert!(public.get("d").is_none(), "no private member");

        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let verified = jsonwebtoken::decode::<serde_json::Value>(
            &proof,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(verified.claims["htu"], "https://acme.okta.com/api/v1/users");

        // The same header and signature over other claims: rejected.
        let parts: Vec<&str> = proof.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({
                "htm": "DELETE",
                "htu": "https://acme.okta.com/api/v1/users",
                "iat": verified.claims["iat"],
                "jti": verified.claims["jti"],
            }))
            .unwrap(),
        );
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        let err = jsonwebtoken::decode::<serde_json::Value>(
            &forged,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap_err();
        assert_eq!(
            err.kind(),
            &jsonwebtoken::errors::ErrorKind::InvalidSignature
        );
    }
}
