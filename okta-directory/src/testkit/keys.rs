//! Keys for the simulated org's service app: a fresh EC P-256 key per org
//! (fast), or an RSA-2048 key generated once per process (slow to make).

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A private EC P-256 JWK (JSON) with `kid`.
pub(crate) fn ec_private_jwk(kid: &str) -> String {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let point =
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&secret.public_key(), false);
    let coord = |c: Option<&p256::FieldBytes>| c.map(|b| b64(b)).unwrap_or_default();
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "kid": kid,
        "x": coord(point.x()),
        "y": coord(point.y()),
        "d": b64(&secret.to_bytes()),
    })
    .to_string()
}

static RSA_KEY: OnceLock<Option<rsa::RsaPrivateKey>> = OnceLock::new();

/// A private RSA-2048 JWK (JSON) with `kid`; the key is made once per
/// process because RSA key generation is slow.
pub(crate) fn rsa_private_jwk(kid: &str) -> Option<String> {
    let key = RSA_KEY
        .get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).ok())
        .as_ref()?;
    let primes = key.primes();
    Some(
        serde_json::json!({
            "kty": "RSA",
            "kid": kid,
            "alg": "RS256",
            "n": b64(&key.n().to_bytes_be()),
            "e": b64(&key.e().to_bytes_be()),
            "d": b64(&key.d().to_bytes_be()),
            "p": b64(&primes.first()?.to_bytes_be()),
            "q": b64(&primes.get(1)?.to_bytes_be()),
        })
        .to_string(),
    )
}

/// The public half of a private JWK, as the server registers it: the key's
/// public members as written (read here, not by the client's credential
/// code, which the server is there to check).
pub(crate) fn public_of(private_json: &str) -> Option<Jwk> {
    const PUBLIC: [&str; 8] = ["kty", "kid", "alg", "crv", "x", "y", "n", "e"];
    let private: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(private_json).ok()?;
    let mut public: serde_json::Map<String, serde_json::Value> = private
        .into_iter()
        .filter(|(k, _)| PUBLIC.contains(&k.as_str()))
        .collect();
    public.insert("use".into(), "sig".into());
    serde_json::from_value(serde_json::Value::Object(public)).ok()
}
