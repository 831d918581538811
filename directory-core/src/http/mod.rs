//! Provider-neutral HTTP machinery (feature `http`): one client with bounded
//! concurrency and no redirects, one retry loop, a token cache, header
//! parsers, the origin guard, the token response decoder
//! ([`AccessToken::from_token_response`]), RFC 7523 client-assertion claims
//! and the one error-from-response constructor ([`ResponseFailure`]), the
//! one authorized request path ([`AuthorizedClient`]) and the one listing
//! paginator ([`Listing`]). Providers build on these and add only what is
//! theirs: how to get a token, how a request is authorized ([`Authorize`]),
//! how their error bodies read, where a page says the next one is, and
//! what a response says about waiting. Their builders share the transport
//! settings ([`ClientSettings`] and its setters).

mod ahead;
mod authorized;
mod client;
mod headers;
mod listing;
mod oauth;
mod origin;
mod retry;
mod settings;
mod token;

pub use ahead::run_ahead;
pub use authorized::{authorization, Authorize, AuthorizedClient};
pub use client::{in_range, timeout_in_range, HttpClient, HttpClientBuilder, HttpResponse};
pub use headers::{next_link, parse_retry_after, server_now, RateLimitHeaders, MAX_SERVER_WAIT};
pub use listing::Listing;
pub use oauth::{ClientAssertionClaims, ResponseFailure, CLIENT_ASSERTION_TYPE};
pub use origin::{parse_endpoint, OriginGuard};
pub use retry::{RetryAfter, RetryPolicy, WaitHint};
pub use settings::ClientSettings;
pub use token::{AccessToken, TokenCache, TokenSource};

/// Re-exported so providers use the same reqwest and url versions as core.
pub use reqwest;
pub use url;
