//! Client credentials: a client secret, or a certificate whose private key
//! signs a client assertion (RFC 7523) for every token request.

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use directory_core::http::ClientAssertionClaims;
use directory_core::{Error, ErrorKind, Result, SecretString};

/// How long a client assertion is valid (Entra accepts up to an hour).
const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha1::Digest as _;
use x509_cert::der::Decode;

/// How the application proves who it is to the token endpoint.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret (the secret's *Value* from "Certificates & secrets").
    Secret(SecretString),
    /// A certificate registered on the app, with its private key.
    Certificate(ClientCertificate),
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientCredential::Secret(_) => f.write_str("Secret([redacted])"),
            ClientCredential::Certificate(c) => f.debug_tuple("Certificate").field(c).finish(),
        }
    }
}

impl ClientCredential {
    /// A short description for logs and `check()`: never the secret or key.
    pub fn describe(&self) -> String {
        match self {
            ClientCredential::Secret(_) => "client secret".to_string(),
            ClientCredential::Certificate(c) => {
                format!("certificate with thumbprint {}", c.thumbprint())
            }
        }
    }
}

/// An X.509 certificate registered on the app registration, and its RSA
/// private key.
///
/// The client assertion it signs is RS256 and carries both thumbprints in its
/// header, `x5t` (SHA-1) and `x5t#S256` (SHA-256), because Microsoft's own
/// documents and field reports disagree on which one Entra matches.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientCertificate {
    der: Vec<u8>,
    sha1: [u8; 20],
    sha256: [u8; 32],
    subject: String,
    not_after: Option<DateTime<Utc>>,
    key: EncodingKey,
    pss: bool,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("subject", &self.subject)
            .field("thumbprint", &self.thumbprint())
            .field("not_after", &self.not_after)
            .field("pss", &self.pss)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl ClientCertificate {
    /// Reads a PEM certificate and its PEM private key (PKCS#8 `PRIVATE KEY`
    /// or PKCS#1 `RSA PRIVATE KEY`). The key may also sit in the certificate
    /// PEM itself, as in the combined files Azure tools write; pass `None`
    /// then. Checks that the key belongs to the certificate.
    pub fn from_pem(certificate_pem: &str, key_pem: Option<&SecretString>) -> Result<Self> {
        let der = pem_block(certificate_pem, &["CERTIFICATE"]).ok_or_else(|| {
            Error::config(
                "certificate",
                "no `-----BEGIN CERTIFICATE-----` block found in the PEM",
            )
        })?;
        let cert = x509_cert::Certificate::from_der(&der)
            .map_err(|e| Error::config("certificate", format!("not an X.509 certificate ({e})")))?;
        let key = read_private_key(certificate_pem, key_pem)?;
        check_key_matches(&cert, &key)?;
        let pkcs1 = key.to_pkcs1_der().map_err(|_| {
            Error::config(
                "certificate key",
                "the RSA private key could not be encoded",
            )
        })?;
        Ok(Self {
            sha1: sha1::Sha1::digest(&der).into(),
            sha256: sha2::Sha256::digest(&der).into(),
            subject: cert.tbs_certificate.subject.to_string(),
            not_after: not_after(&cert),
            key: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
            pss: false,
            der,
        })
    }

    /// Signs assertions with PS256 (RSA-PSS) instead of RS256, as Microsoft's
    /// newer certificate-credential document recommends; both thumbprints
    /// stay in the header. Use it if a tenant refuses RS256 assertions.
    pub fn with_pss(mut self, pss: bool) -> Self {
        self.pss = pss;
        self
    }

    /// The SHA-1 thumbprint in upper-case hex, as the Azure portal shows it.
    pub fn thumbprint(&self) -> String {
        self.sha1.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The certificate's subject, e.g. `CN=directory-sync`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// When the certificate expires.
    pub fn not_after(&self) -> Option<DateTime<Utc>> {
        self.not_after
    }

    /// Whether the certificate has expired.
    pub fn is_expired(&self) -> bool {
        self.not_after.is_some_and(|t| t < Utc::now())
    }

    /// The certificate in DER form.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Signs a fresh client assertion for `client_id` addressed to the token
    /// endpoint `audience`: RS256, `x5t` and `x5t#S256`, `iss = sub =
    /// client_id`, a unique `jti`, valid for 10 minutes.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String> {
        let mut header = Header::new(if self.pss {
            Algorithm::PS256
        } else {
            Algorithm::RS256
        });
        header.typ = Some("JWT".into());
        header.x5t = Some(URL_SAFE_NO_PAD.encode(self.sha1));
        header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(self.sha256));
        let claims = ClientAssertionClaims::new(client_id, audience, ASSERTION_LIFETIME);
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            Error::new(
                ErrorKind::InvalidCredential,
                format!("could not sign the client assertion ({e:?})"),
            )
        })
    }
}

fn read_private_key(
    certificate_pem: &str,
    key_pem: Option<&SecretString>,
) -> Result<RsaPrivateKey> {
    let text = key_pem.map_or(certificate_pem, SecretString::expose_secret);
    if text.contains("ENCRYPTED PRIVATE KEY") {
        return Err(Error::config(
            "certificate key",
            "the private key is encrypted; export it without a password (PKCS#8 or PKCS#1 PEM)",
        ));
    }
    if let Some(der) = pem_block(text, &["PRIVATE KEY"]) {
        return RsaPrivateKey::from_pkcs8_der(&der)
            .map_err(|_| Error::config("certificate key", "not an RSA PKCS#8 private key"));
    }
    if let Some(der) = pem_block(text, &["RSA PRIVATE KEY"]) {
        return RsaPrivateKey::from_pkcs1_der(&der)
            .map_err(|_| Error::config("certificate key", "not an RSA PKCS#1 private key"));
    }
    Err(Error::config(
        "certificate key",
        "no `PRIVATE KEY` or `RSA PRIVATE KEY` PEM block found",
    ))
}

fn check_key_matches(cert: &x509_cert::Certificate, key: &RsaPrivateKey) -> Result<()> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let public = spki
        .subject_public_key
        .as_bytes()
        .and_then(|b| RsaPublicKey::from_pkcs1_der(b).ok())
        .ok_or_else(|| Error::config("certificate", "the certificate's key is not an RSA key"))?;
    if public != key.to_public_key() {
        return Err(Error::config(
            "certificate key",
            "the private key does not belong to the certificate; use the key the \
             certificate was issued for",
        ));
    }
    Ok(())
}

fn not_after(cert: &x509_cert::Certificate) -> Option<DateTime<Utc>> {
    let secs = cert
        .tbs_certificate
        .validity
        .not_after
        .to_unix_duration()
        .as_secs();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

/// The DER content of the first PEM block whose label is one of `labels`
/// (in the order of `labels`), read with the `pem` crate.
pub(crate) fn pem_block(text: &str, labels: &[&str]) -> Option<Vec<u8>> {
    let blocks = pem::parse_many(text).ok()?;
    labels.iter().find_map(|label| {
        blocks
            .iter()
            .find(|b| b.tag() == *label)
            .map(|b| b.contents().to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("testkit/keys/client.cert.pem");
    const KEY: &str = include_str!("testkit/keys/client.key.pem");
    const OTHER_KEY: &str = include_str!("testkit/keys/other.key.pem");

    #[test]
    fn reads_certificate_and_key_and_signs_with_both_thumbprints() {
        let key = SecretString::new(KEY);
        let cert = ClientCertificate::from_pem(CERT, Some(&key)).unwrap();
        assert_eq!(cert.thumbprint().len(), 40);
        assert!(!cert.is_expired());
        let jwt = cert
            .assertion("11111111-1111-1111-1111-111111111111", "https://x.test/t")
            .unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert!(header.x5t.is_some() && header.x5t_s256.is_some());
    }

    #[test]
    fn pss_assertions_use_ps256() {
        let key = SecretString::new(KEY);
        let cert = ClientCertificate::from_pem(CERT, Some(&key))
            .unwrap()
            .with_pss(true);
        let jwt = cert
            .assertion("11111111-1111-1111-1111-111111111111", "https://x.test/t")
            .unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&jwt).unwrap().alg,
            Algorithm::PS256
        );
    }

    #[test]
    fn combined_pem_works_and_wrong_key_is_refused() {
        let combined = format!("{CERT}\n{KEY}");
        assert!(ClientCertificate::from_pem(&combined, None).is_ok());
        let e = ClientCertificate::from_pem(CERT, Some(&SecretString::new(OTHER_KEY))).unwrap_err();
        assert!(
            e.message().starts_with("certificate key:"),
            "{}",
            e.message()
        );
        let e = ClientCertificate::from_pem("nope", None).unwrap_err();
        assert!(e.message().starts_with("certificate:"), "{}", e.message());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = SecretString::new(KEY);
        let cred =
            ClientCredential::Certificate(ClientCertificate::from_pem(CERT, Some(&key)).unwrap());
        let dbg = format!("{cred:?}");
        assert!(dbg.contains("[redacted]"));
        assert!(!dbg.contains("MII"), "{dbg}");
        let s = ClientCredential::Secret(SecretString::new("s3cr3t-value"));
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }
}
