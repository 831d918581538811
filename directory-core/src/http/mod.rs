//! Provider-neutral HTTP machinery (feature `http`): one client with bounded
//! concurrency and no redirects, one retry loop, a token cache, header
//! parsers, the origin guard, the token response decoder
//! ([`AccessToken::from_token_response`]), RFC 7523 client-assertion claims
//! and the one error-from-response constructor ([`ResponseFailure`]).
//! Providers build on these and add only what is theirs: how to get a
//! token, how their error bodies read, and what a response says about
//! waiting.

mod ahead;
mod client;
mod headers;
mod oauth;
mod origin;
mod retry;
mod token;

pub use ahead::run_ahead;
pub use client::{in_range, timeout_in_range, HttpClient, HttpClientBuilder, HttpResponse};
pub use headers::{next_link, parse_retry_after, server_now, RateLimitHeaders, MAX_SERVER_WAIT};
pub use oauth::{ClientAssertionClaims, ResponseFailure, CLIENT_ASSERTION_TYPE};
pub use origin::{parse_endpoint, OriginGuard};
pub use retry::{RetryAfter, RetryPolicy, WaitHint};
pub use token::{AccessToken, TokenCache, TokenSource};

/// Re-exported so providers use the same reqwest and url versions as core.
pub use reqwest;
pub use url;
