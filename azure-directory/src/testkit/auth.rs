//! The simulated token endpoint: client secrets compared for real, client
//! assertions verified for real (RS256/PS256 signature against the registered
//! certificate found by `x5t` or `x5t#S256`, audience, issuer, lifetime, jti
//! replay), and access tokens issued as HS256 JWTs that Graph verifies.

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use directory_core::{constant_time_eq, SecretString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sha2::Digest as _;
use x509_cert::der::Decode;

use super::server::{aad_error, Reply};

/// A certificate registered on the app: its thumbprints and public key.
#[derive(Clone)]
pub(crate) struct RegisteredCert {
    sha1: String,
    sha256: String,
    key: DecodingKey,
}

impl RegisteredCert {
    /// Reads the certificate with the `der` crate's PEM decoder, not the
    /// client's credential code that this server is there to check.
    pub fn from_pem(pem: &str) -> Option<Self> {
        let (label, der) = x509_cert::der::pem::decode_vec(pem.trim().as_bytes()).ok()?;
        if label != "CERTIFICATE" {
            return None;
        }
        let cert = x509_cert::Certificate::from_der(&der).ok()?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .as_bytes()?
            .to_vec();
        Some(Self {
            sha1: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)),
            sha256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)),
            key: DecodingKey::from_rsa_der(&spki),
        })
    }
}

/// The app registration and the tenant's token state.
pub(crate) struct AuthState {
    pub tenant_id: String,
    pub client_id: String,
    pub secret: SecretString,
    pub secret_expired: bool,
    pub certs: Vec<RegisteredCert>,
    pub roles: Vec<String>,
    pub tenant_exists: bool,
    pub client_exists: bool,
    pub signing_key: Vec<u8>,
    pub generation: u64,
    pub token_lifetime_secs: u64,
    pub used_jti: HashSet<String>,
    pub issued: u64,
    pub last_token: Option<SecretString>,
    pub skew_secs: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AccessClaims {
    aud: String,
    iss: String,
    tid: String,
    appid: String,
    roles: Vec<String>,
    iat: u64,
    nbf: u64,
    exp: u64,
    generation: u64,
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    #[serde(default)]
    jti: Option<String>,
}

/// The token request, as form fields.
pub(crate) struct TokenRequest {
    pub tenant: String,
    pub token_url: String,
    pub scope_expected: String,
    pub form: Vec<(String, String)>,
}

impl TokenRequest {
    fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl AuthState {
    /// Answers a token request like the Microsoft identity platform.
    pub fn token(&mut self, req: &TokenRequest, now: u64) -> Reply {
        let tenant_ok = self.tenant_exists && req.tenant.eq_ignore_ascii_case(&self.tenant_id);
        if !tenant_ok {
            return aad_error(400, "invalid_request", 90002, &format!("Tenant '{}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", req.tenant));
        }
        if req.field("grant_type") != Some("client_credentials") {
            return aad_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            );
        }
        let client = req.field("client_id").unwrap_or_default();
        if !self.client_exists || !client.eq_ignore_ascii_case(&self.client_id) {
            return aad_error(
                400,
                "unauthorized_client",
                700016,
                &format!("Application with identifier '{client}' was not found in the directory."),
            );
        }
        if req.field("scope") != Some(req.scope_expected.as_str()) {
            return aad_error(
                400,
                "invalid_scope",
                70011,
                "The provided value for the input parameter 'scope' is not valid.",
            );
        }
        if let Some(err) = self.authenticate(req) {
            return err;
        }
        self.issue(&req.scope_expected, now)
    }

    fn authenticate(&mut self, req: &TokenRequest) -> Option<Reply> {
        match (req.field("client_secret"), req.field("client_assertion")) {
            (Some(secret), _) => self.check_secret(secret),
            (None, Some(assertion)) => self.check_assertion(assertion, req),
            (None, None) => Some(aad_error(400, "invalid_request", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")),
        }
    }

    fn check_secret(&self, secret: &str) -> Option<Reply> {
        if !constant_time_eq(secret.as_bytes(), self.secret.expose_secret().as_bytes()) {
            return Some(aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."));
        }
        if self.secret_expired {
            return Some(aad_error(
                401,
                "invalid_client",
                7000222,
                "The provided client secret keys are expired.",
            ));
        }
        None
    }

    fn check_assertion(&mut self, assertion: &str, req: &TokenRequest) -> Option<Reply> {
        const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        if req.field("client_assertion_type") != Some(JWT_BEARER) {
            return Some(aad_error(
                400,
                "invalid_request",
                7000218,
                "client_assertion_type is missing or wrong.",
            ));
        }
        let claims = match self.verify_assertion(assertion, &req.token_url) {
            Ok(c) => c,
            Err(reply) => return Some(reply),
        };
        if claims.iss != self.client_id || claims.sub != self.client_id {
            return Some(bad_assertion("iss and sub must be the client id"));
        }
        let jti = claims.jti.unwrap_or_default();
        if jti.is_empty() || !self.used_jti.insert(jti) {
            let text = "The client assertion jti is missing or was already used.";
            return Some(aad_error(401, "invalid_client", 7000273, text));
        }
        None
    }

    /// Finds the registered certificate by thumbprint and checks the
    /// signature, audience and lifetime.
    fn verify_assertion(&self, assertion: &str, token_url: &str) -> Result<AssertionClaims, Reply> {
        use jsonwebtoken::errors::ErrorKind as Jwt;
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|_| bad_assertion("not a JWT"))?;
        let cert = self
            .certs
            .iter()
            .find(|c| {
                header.x5t_s256.as_deref() == Some(c.sha256.as_str())
                    || header.x5t.as_deref() == Some(c.sha1.as_str())
            })
            .ok_or_else(|| bad_assertion("the thumbprint matches no registered certificate"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
            return Err(bad_assertion("unsupported algorithm"));
        }
        let mut v = Validation::new(header.alg);
        v.set_audience(&[token_url]);
        v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        v.leeway = 0;
        v.validate_nbf = true;
        jsonwebtoken::decode::<AssertionClaims>(assertion, &cert.key, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                Jwt::ExpiredSignature | Jwt::ImmatureSignature => aad_error(
                    401,
                    "invalid_client",
                    700024,
                    "Client assertion is not within its valid time range.",
                ),
                other => bad_assertion(&format!("{other:?}")),
            })
    }

    fn issue(&mut self, scope: &str, now: u64) -> Reply {
        let aud = scope.trim_end_matches("/.default").to_string();
        let claims = AccessClaims {
            aud,
            iss: format!("https://sts.windows.net/{}/", self.tenant_id),
            tid: self.tenant_id.clone(),
            appid: self.client_id.clone(),
            roles: self.roles.clone(),
            iat: now,
            nbf: now,
            exp: (now + self.token_lifetime_secs).saturating_sub(self.skew_secs),
            generation: self.generation,
        };
        let Ok(token) = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.signing_key),
        ) else {
            return aad_error(500, "server_error", 90006, "could not issue a token");
        };
        self.issued += 1;
        self.last_token = Some(SecretString::new(token.clone()));
        Reply::json(
            200,
            serde_json::json!({
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_secs,
                "ext_expires_in": self.token_lifetime_secs,
                "access_token": token,
            }),
        )
    }

    /// Checks a Graph request's bearer token; `Err` is Graph's 401 message.
    pub fn verify(
        &self,
        authorization: Option<&str>,
        graph_origin: &str,
    ) -> Result<Vec<String>, &'static str> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or("Access token is empty.")?;
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[graph_origin]);
        v.leeway = 0;
        let data = jsonwebtoken::decode::<AccessClaims>(
            token,
            &DecodingKey::from_secret(&self.signing_key),
            &v,
        )
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                "Access token has expired or is not yet valid."
            }
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                "Access token validation failure. Invalid audience."
            }
            _ => "CompactToken parsing failed with error code: 80049217",
        })?;
        if data.claims.generation != self.generation {
            return Err("Access token has expired or is not yet valid.");
        }
        Ok(data.claims.roles)
    }
}

fn bad_assertion(why: &str) -> Reply {
    let text = format!("Client assertion failed signature validation. ({why})");
    aad_error(401, "invalid_client", 700027, &text)
}

/// The permissions (any one of them) each Graph area needs.
pub(crate) fn needs(area: &str) -> &'static [&'static str] {
    match area {
        "users" => &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"],
        "groups" => &[
            "GroupMember.Read.All",
            "Group.Read.All",
            "Directory.Read.All",
        ],
        _ => &["Application.Read.All", "Directory.Read.All"],
    }
}
