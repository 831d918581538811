//! Endpoints and the origin guard: next-page links are followed only on the
//! configured origin, so a token is never sent elsewhere.

use url::Url;

use crate::error::{Error, ErrorKind, Result};

/// Parses a configured endpoint URL for `field`.
///
/// `https` is required unless `allow_http` (test mode, e.g. a simulated org
/// on 127.0.0.1). User info, queries and fragments are refused: an endpoint
/// is a scheme, a host, a port and at most a path prefix.
pub fn parse_endpoint(field: &str, value: &str, allow_http: bool) -> Result<Url> {
    let url = Url::parse(value.trim())
        .map_err(|e| Error::config(field, format!("`{value}` is not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(Error::config(
                field,
                format!("`{value}` uses http://; only https:// is allowed outside test mode"),
            ))
        }
        other => {
            return Err(Error::config(
                field,
                format!("unsupported scheme `{other}`"),
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(field, format!("`{value}` has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            field,
            "credentials must not be part of the URL",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(
            field,
            format!("`{value}` must not have a query or fragment"),
        ));
    }
    Ok(url)
}

/// Allows links only on one origin (scheme, host and port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginGuard {
    origin: url::Origin,
}

impl OriginGuard {
    /// A guard for `base`'s origin.
    pub fn new(base: &Url) -> Self {
        Self {
            origin: base.origin(),
        }
    }

    /// The allowed origin, e.g. `https://acme.okta.com`.
    pub fn origin(&self) -> String {
        self.origin.ascii_serialization()
    }

    /// Parses `link` and returns it if it is on the allowed origin; otherwise
    /// an [`ErrorKind::InvalidResponse`] error. The refused link's origin is
    /// named, its path and query are not (they may carry cursors).
    pub fn check(&self, link: &str) -> Result<Url> {
        let url = Url::parse(link).map_err(|e| {
            Error::invalid_response(format!(
                "the server sent a next-page link that is not a URL ({e})"
            ))
        })?;
        if url.origin() != self.origin {
            return Err(Error::new(
                ErrorKind::InvalidResponse,
                format!(
                    "refused to follow a next-page link to {} because it is outside the \
                     configured origin {}; no request was sent there",
                    url.origin().ascii_serialization(),
                    self.origin()
                ),
            ));
        }
        Ok(url)
    }
}

impl OriginGuard {
    /// Refuses a URL off the allowed origin before a request goes there
    /// (an [`ErrorKind::InvalidConfig`] error: the URL was built from the
    /// configuration, not sent by the server).
    pub fn check_url(&self, url: &Url) -> Result<()> {
        if url.origin() == self.origin {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "refused to send a request to {} because it is outside the configured origin \
                 {}; no request was sent there",
                url.origin().ascii_serialization(),
                self.origin()
            ),
        ))
    }

    /// Like [`OriginGuard::check`], and the link must also stay on the
    /// listing it continues (the same path as `listing`, only the query may
    /// change): a next link from one group's members to another group's
    /// would file people under the wrong group.
    pub fn check_listing(&self, link: &str, listing: &Url) -> Result<Url> {
        let url = self.check(link)?;
        if url.path() != listing.path() {
            return Err(Error::invalid_response(format!(
                "refused to follow a next-page link to another listing ({}) than the one \
                 being read ({}); no request was sent there",
                url.path(),
                listing.path()
            )));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_validation_names_the_field() {
        assert!(parse_endpoint("domain", "https://acme.okta.com", false).is_ok());
        let e = parse_endpoint("domain", "http://acme.okta.com", false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.message().starts_with("domain:"), "{}", e.message());
        assert!(parse_endpoint("domain", "http://127.0.0.1:9", true).is_ok());
        assert!(parse_endpoint("domain", "https://u:p@x.test", false).is_err());
        assert!(parse_endpoint("domain", "https://x.test/?a=1", false).is_err());
        assert!(parse_endpoint("domain", "ftp://x.test", true).is_err());
        assert!(parse_endpoint("domain", "not a url", true).is_err());
    }

    #[test]
    fn next_links_stay_on_their_listing() {
        let listing =
            Url::parse("https://acme.okta.com/api/v1/groups/00g1/users?limit=1000").unwrap();
        let g = OriginGuard::new(&listing);
        assert!(g
            .check_listing(
                "https://acme.okta.com/api/v1/groups/00g1/users?after=x&limit=1000",
                &listing
            )
            .is_ok());
        let e = g
            .check_listing(
                "https://acme.okta.com/api/v1/groups/00g2/users?after=x",
                &listing,
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert!(e.message().contains("another listing"), "{e}");
        assert!(g
            .check_listing("https://evil.test/api/v1/groups/00g1/users", &listing)
            .is_err());
    }

    #[test]
    fn guard_refuses_other_hosts_ports_and_schemes() {
        let g = OriginGuard::new(&Url::parse("https://acme.okta.com").unwrap());
        assert!(g
            .check("https://acme.okta.com/api/v1/users?after=x")
            .is_ok());
        for bad in [
            "https://evil.test/api/v1/users",
            "http://acme.okta.com/api/v1/users",
            "https://acme.okta.com:444/api/v1/users",
            "https://acme.okta.com.evil.test/x",
            "/relative",
        ] {
            assert!(g.check(bad).is_err(), "{bad}");
        }
    }
}
