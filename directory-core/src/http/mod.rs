//! Provider-neutral HTTP machinery (feature `http`): one client with bounded
//! concurrency and no redirects, one retry loop, a token cache, header
//! parsers and the origin guard. Providers build on these and add only what
//! is theirs: how to get a token, and what a response says about waiting.

mod ahead;
mod client;
mod headers;
mod origin;
mod retry;
mod token;

pub use ahead::run_ahead;
pub use client::{in_range, timeout_in_range, HttpClient, HttpClientBuilder, HttpResponse};
pub use headers::{next_link, parse_retry_after, server_now, RateLimitHeaders, MAX_SERVER_WAIT};
pub use origin::{parse_endpoint, OriginGuard};
pub use retry::{RetryAfter, RetryPolicy, WaitHint};
pub use token::{AccessToken, TokenCache, TokenSource};

/// Re-exported so providers use the same reqwest and url versions as core.
pub use reqwest;
pub use url;
