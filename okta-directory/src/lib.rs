//! okta-directory (docs pending)
#![warn(missing_docs)]

mod auth;
mod builder;
mod client;
mod credential;
mod decode;
mod errors;
mod provider;
mod ratelimit;

pub use builder::{env, OktaDirectoryBuilder, PageLimits};
pub use credential::PrivateJwk;
pub use decode::{group_kind, user_status};
pub use provider::OktaDirectory;
pub use ratelimit::bucket_of;

#[cfg(feature = "testkit")]
pub mod testkit;
