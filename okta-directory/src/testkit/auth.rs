//! The simulated org's authorization server: it verifies the signed client
//! assertion against the registered public JWK and every DPoP proof for
//! real (jsonwebtoken), issues opaque tokens, and checks them on every call.
//!
//! It checks the client with code of its own, never with the credential
//! code it is there to test: the registered key is the JWK's public members
//! as written, `ath` and the clock are computed here.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::faults::Switches;
use super::server::Reply;
use super::wire::oauth_error;

/// Seconds since the Unix epoch, by this machine's clock.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `ath` a proof must carry for `token` (RFC 9449 section 4.2):
/// base64url of the SHA-256 of the token's ASCII bytes.
fn expected_ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ALGS: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

struct Issued {
    expires: Instant,
    scopes: Vec<String>,
    jkt: Option<String>,
}

/// The app registration and the tokens issued so far.
pub(crate) struct AuthServer {
    pub(crate) client_id: String,
    pub(crate) kid: String,
    pub(crate) public_jwk: Jwk,
    /// Another key, served under the same kid for `Misconfig::BadSignature`.
    pub(crate) other_jwk: Jwk,
    pub(crate) dpop_required: bool,
    pub(crate) token_lifetime: Duration,
    /// Tokens die this much earlier than `expires_in` says (clock skew).
    pub(crate) expires_early: Duration,
    /// Whether resource calls need the current nonce in their proofs.
    pub(crate) resource_nonce: bool,
    nonce: String,
    tokens: Mutex<HashMap<String, Issued>>,
    used_jti: Mutex<HashSet<String>>,
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<u64>,
    iat: Option<u64>,
    jti: Option<String>,
}

#[derive(Deserialize)]
struct ProofClaims {
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<u64>,
    jti: Option<String>,
    nonce: Option<String>,
    ath: Option<String>,
}

/// What a request presented, for [`AuthServer::authorize`].
pub(crate) struct Presented<'a> {
    pub(crate) authorization: Option<&'a str>,
    pub(crate) dpop: Option<&'a str>,
    pub(crate) method: &'a str,
    pub(crate) htu: &'a str,
}

fn invalid_client(desc: &str) -> Reply {
    Reply::json(401, &oauth_error("invalid_client", desc))
}

fn bad_request(error: &str, desc: &str) -> Reply {
    Reply::json(400, &oauth_error(error, desc))
}

impl AuthServer {
    pub(crate) fn new(
        client_id: String,
        public_jwk: Jwk,
        other_jwk: Jwk,
        dpop_required: bool,
        token_lifetime: Duration,
    ) -> Self {
        Self {
            client_id,
            kid: public_jwk.common.key_id.clone().unwrap_or_default(),
            public_jwk,
            other_jwk,
            dpop_required,
            token_lifetime,
            expires_early: Duration::ZERO,
            resource_nonce: false,
            nonce: format!("n-{}", uuid::Uuid::new_v4().simple()),
            tokens: Mutex::new(HashMap::new()),
            used_jti: Mutex::new(HashSet::new()),
        }
    }

    /// Forgets every token issued, so the next calls get a 401.
    pub(crate) fn revoke_all(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The nonce resource calls must carry (differs from the token endpoint's).
    fn resource_nonce_value(&self) -> &str {
        "resource-nonce-1"
    }

    /// Every token currently valid.
    pub(crate) fn live_tokens(&self) -> Vec<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .iter()
            .filter(|(_, t)| t.expires > Instant::now())
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn first_use(&self, jti: &str) -> bool {
        self.used_jti
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(jti.to_string())
    }

    /// `POST /oauth2/v1/token`.
    pub(crate) fn token(
        &self,
        sw: &Switches,
        token_url: &str,
        dpop: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let form: HashMap<String, String> = directory_core::http::url::form_urlencoded::parse(body)
            .into_owned()
            .collect();
        let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        if field("grant_type") != "client_credentials" {
            return bad_request(
                "unsupported_grant_type",
                "The authorization grant type is not supported.",
            );
        }
        if field("client_assertion_type") != ASSERTION_TYPE {
            return bad_request("invalid_request", "The client_assertion_type is invalid.");
        }
        let requested: Vec<&str> = field("scope").split_whitespace().collect();
        if requested.is_empty() {
            return bad_request("invalid_scope", "No scopes were requested.");
        }
        if let Err(reply) = self.verify_assertion(sw, token_url, field("client_assertion")) {
            return reply;
        }
        let jkt = match self.token_dpop(sw, token_url, dpop) {
            Ok(jkt) => jkt,
            Err(reply) => return reply,
        };
        let granted: Vec<String> = requested
            .iter()
            .filter(|s| {
                sw.granted
                    .as_ref()
                    .is_none_or(|g| g.iter().any(|x| x == *s))
            })
            .map(|s| s.to_string())
            .collect();
        if granted.is_empty() {
            return bad_request(
                "consent_required",
                "You are not allowed any of the requested scopes.",
            );
        }
        self.issue(granted, jkt)
    }

    fn issue(&self, scopes: Vec<String>, jkt: Option<String>) -> Reply {
        let token = format!(
            "okta-sim-{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let body = serde_json::json!({
            "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": self.token_lifetime.as_secs().max(1),
            "access_token": token,
            "scope": scopes.join(" "),
        });
        let issued = Issued {
            expires: Instant::now() + self.token_lifetime.saturating_sub(self.expires_early),
            scopes,
            jkt,
        };
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token, issued);
        Reply::json(200, &body)
    }

    fn verify_assertion(
        &self,
        sw: &Switches,
        token_url: &str,
        assertion: &str,
    ) -> Result<(), Reply> {
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|_| invalid_client("The client_assertion is not a valid JWT."))?;
        let claims = jsonwebtoken::dangerous::insecure_decode::<AssertionClaims>(assertion)
            .map_err(|_| invalid_client("The client_assertion is not a valid JWT."))?
            .claims;
        let known = if sw.wrong_client_id {
            "0oaSomeOtherClient"
        } else {
            self.client_id.as_str()
        };
        if claims.iss.as_deref() != Some(known) || claims.sub.as_deref() != Some(known) {
            return Err(invalid_client(
                "The issuer claim for client_assertion is not a valid client_id.",
            ));
        }
        if !ALGS.contains(&header.alg) {
            return Err(invalid_client(
                "The client_assertion signature algorithm is not allowed.",
            ));
        }
        if sw.key_not_registered || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(invalid_client("The client_assertion JWT kid is invalid."));
        }
        let jwk = if sw.bad_signature {
            &self.other_jwk
        } else {
            &self.public_jwk
        };
        verify_signature(assertion, header.alg, jwk, Some(token_url)).map_err(|k| match k {
            JwtErrorKind::InvalidAudience => invalid_client(
                "The audience claim for client_assertion must be the endpoint invoked for the request.",
            ),
            _ => invalid_client("The client_assertion signature is invalid."),
        })?;
        self.check_times(sw, &claims)
    }

    fn check_times(&self, sw: &Switches, c: &AssertionClaims) -> Result<(), Reply> {
        let now = unix_now().saturating_sub(sw.clock_skew);
        let exp = c.exp.ok_or_else(|| {
            invalid_client("The client_assertion token must have an expiration claim.")
        })?;
        if exp <= now {
            return Err(invalid_client("The client_assertion token is expired."));
        }
        if exp > now + 3600 {
            return Err(invalid_client(
                "The client_assertion token has an expiration too far into the future.",
            ));
        }
        if c.iat.is_some_and(|iat| iat > now) {
            return Err(invalid_client(
                "The client_assertion token has an issued at time in the future.",
            ));
        }
        if let Some(jti) = &c.jti {
            if !self.first_use(jti) {
                return Err(invalid_client(
                    "The client_assertion token has already been used.",
                ));
            }
        }
        Ok(())
    }

    /// DPoP at the token endpoint: required proof, nonce dance, binding.
    fn token_dpop(
        &self,
        sw: &Switches,
        token_url: &str,
        dpop: Option<&str>,
    ) -> Result<Option<String>, Reply> {
        let Some(proof) = dpop else {
            if self.dpop_required {
                return Err(bad_request(
                    "invalid_dpop_proof",
                    "The DPoP proof JWT header is missing.",
                ));
            }
            return Ok(None);
        };
        if sw.dpop_mismatch {
            return Err(bad_request(
                "invalid_dpop_proof",
                "The DPoP proof JWT signature algorithm is not supported.",
            ));
        }
        let (claims, jkt) = self
            .verify_proof(proof, "POST", token_url)
            .map_err(|d| bad_request("invalid_dpop_proof", &d))?;
        if claims.nonce.as_deref() != Some(self.nonce.as_str()) {
            let mut reply = bad_request(
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof.",
            );
            reply.headers.push(("dpop-nonce", self.nonce.clone()));
            return Err(reply);
        }
        Ok(self.dpop_required.then_some(jkt))
    }

    fn verify_proof(
        &self,
        proof: &str,
        htm: &str,
        htu: &str,
    ) -> Result<(ProofClaims, String), String> {
        let header = jsonwebtoken::decode_header(proof)
            .map_err(|_| "The DPoP proof JWT is malformed.".to_string())?;
        if header.typ.as_deref() != Some("dpop+jwt") {
            return Err("The DPoP proof JWT has an invalid type.".into());
        }
        let jwk = header.jwk.ok_or("The DPoP proof JWT header has no jwk.")?;
        if !ALGS.contains(&header.alg) {
            return Err("The DPoP proof JWT signature algorithm is not supported.".into());
        }
        verify_signature(proof, header.alg, &jwk, None)
            .map_err(|_| "The DPoP proof JWT signature is invalid.".to_string())?;
        let c = jsonwebtoken::dangerous::insecure_decode::<ProofClaims>(proof)
            .map_err(|_| "The DPoP proof JWT is malformed.".to_string())?
            .claims;
        if c.htm.as_deref() != Some(htm) {
            return Err("'htm' claim in the DPoP proof JWT is invalid.".into());
        }
        if c.htu.as_deref() != Some(htu) {
            return Err("'htu' claim in the DPoP proof JWT is invalid.".into());
        }
        let now = unix_now();
        match c.iat {
            Some(iat) if iat > now + 5 => {
                return Err("The DPoP proof JWT was issued in the future.".into())
            }
            Some(iat) if iat + 300 < now => {
                return Err(
                    "The DPoP proof JWT was issued more than five minutes in the past.".into(),
                )
            }
            Some(_) => {}
            None => return Err("'iat' claim in the DPoP proof JWT is invalid.".into()),
        }
        match c.jti.as_deref() {
            Some(j) if self.first_use(j) => {}
            Some(_) => return Err("The DPoP proof JWT has already been used.".into()),
            None => return Err("'jti' claim in the DPoP proof JWT is invalid.".into()),
        }
        Ok((c, jwk.thumbprint(ThumbprintHash::SHA256)))
    }

    /// Checks a resource call's token, DPoP proof and scope.
    pub(crate) fn authorize(
        &self,
        sw: &Switches,
        p: &Presented<'_>,
        scope: &str,
    ) -> Result<(), Reply> {
        let (scheme, token) = p
            .authorization
            .and_then(|a| a.split_once(' '))
            .ok_or_else(|| {
                www(
                    401,
                    "Bearer",
                    "invalid_token",
                    "The access token is invalid.",
                    scope,
                )
            })?;
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let issued = tokens
            .get(token)
            .filter(|t| t.expires > Instant::now())
            .ok_or_else(|| {
                www(
                    401,
                    scheme,
                    "invalid_token",
                    "The token has expired.",
                    scope,
                )
            })?;
        let has_scope = issued.scopes.iter().any(|s| s == scope);
        let jkt = issued.jkt.clone();
        drop(tokens);
        if let Some(jkt) = jkt {
            self.resource_dpop(sw, p, token, scheme, &jkt, scope)?;
        }
        if !has_scope {
            return Err(www(
                403,
                scheme,
                "insufficient_scope",
                "The access token provided does not contain the required scopes.",
                scope,
            ));
        }
        Ok(())
    }

    fn resource_dpop(
        &self,
        sw: &Switches,
        p: &Presented<'_>,
        token: &str,
        scheme: &str,
        jkt: &str,
        scope: &str,
    ) -> Result<(), Reply> {
        if !scheme.eq_ignore_ascii_case("dpop") {
            return Err(www(
                400,
                "DPoP",
                "invalid_request",
                "The DPoP access token must be sent with the DPoP scheme.",
                scope,
            ));
        }
        let fail = |d: &str| www(400, "DPoP", "invalid_dpop_proof", d, scope);
        if sw.dpop_mismatch {
            return Err(fail("'htu' claim in the DPoP proof JWT is invalid."));
        }
        let proof = p
            .dpop
            .ok_or_else(|| fail("The DPoP proof JWT header is missing."))?;
        let (claims, proof_jkt) = self
            .verify_proof(proof, p.method, p.htu)
            .map_err(|d| fail(&d))?;
        if proof_jkt != jkt {
            return Err(fail(
                "The DPoP proof JWT key does not match the access token binding.",
            ));
        }
        if claims.ath.as_deref() != Some(expected_ath(token).as_str()) {
            return Err(fail("'ath' claim in the DPoP proof JWT is invalid."));
        }
        if self.resource_nonce && claims.nonce.as_deref() != Some(self.resource_nonce_value()) {
            let mut r = www(
                401,
                "DPoP",
                "use_dpop_nonce",
                "Resource server requires nonce in DPoP proof.",
                scope,
            );
            r.headers
                .push(("dpop-nonce", self.resource_nonce_value().to_string()));
            return Err(r);
        }
        Ok(())
    }
}

fn verify_signature(
    jwt: &str,
    alg: Algorithm,
    jwk: &Jwk,
    aud: Option<&str>,
) -> Result<(), JwtErrorKind> {
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.into_kind())?;
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.leeway = 0;
    v.required_spec_claims = HashSet::new();
    match aud {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &v)
        .map(|_| ())
        .map_err(|e| e.into_kind())
}

/// A `WWW-Authenticate` error with an empty body, as Okta sends for token problems.
fn www(status: u16, scheme: &str, error: &str, desc: &str, scope: &str) -> Reply {
    let value = format!(
        "{scheme} algs=\"RS256 RS384 RS512 ES256 ES384 ES512\", realm=\"Okta\", error=\"{error}\", \
         error_description=\"{desc}\", scope=\"{scope}\""
    );
    let mut r = Reply::empty(status);
    r.headers.push(("www-authenticate", value));
    r
}
