//! A cached access token, refreshed shortly before expiry and once on a 401,
//! with one shared refresh for all concurrent requests and a read path that
//! takes no lock across an await.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
// Tokio's clock: the monotonic clock in production, and the paused clock
// of a test that calls `tokio::time::pause`, so expiry is tested without
// sleeping.
use tokio::time::Instant;

use crate::error::Result;
use crate::secret::SecretString;

/// An access token and when it stops being usable.
#[derive(Clone)]
pub struct AccessToken {
    /// The token itself.
    pub secret: SecretString,
    /// The token type the server named (`Bearer`, `DPoP`).
    pub token_type: String,
    /// When it expires, on the local monotonic clock (computed from the
    /// server's `expires_in`, so wall-clock skew does not matter); Tokio's
    /// `Instant`, so a test on a paused clock can advance past it.
    pub expires_at: Instant,
    /// When it was received.
    pub issued_at: Instant,
    /// The scopes or roles the server says it granted, when it says.
    pub granted: Vec<String>,
}

impl AccessToken {
    /// The longest lifetime a token is believed: servers that claim more
    /// (or send nonsense) get this, and a 401 refreshes earlier anyway.
    pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

    /// A token valid for `expires_in` from now (at most [`Self::MAX_LIFETIME`]).
    pub fn new(secret: SecretString, token_type: impl Into<String>, expires_in: Duration) -> Self {
        let now = Instant::now();
        Self {
            secret,
            token_type: token_type.into(),
            issued_at: now,
            expires_at: now
                .checked_add(expires_in.min(Self::MAX_LIFETIME))
                .unwrap_or(now),
            granted: Vec::new(),
        }
    }

    /// Whether the token is still good for at least `margin`.
    pub fn is_fresh(&self, margin: Duration) -> bool {
        Instant::now()
            .checked_add(margin)
            .is_some_and(|t| t < self.expires_at)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &self.secret)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("granted", &self.granted)
            .finish()
    }
}

/// Where tokens come from: a provider's client-credentials flow.
#[async_trait]
pub trait TokenSource: Send + Sync + 'static {
    /// Requests a new token from the authorization server.
    async fn fetch_token(&self) -> Result<AccessToken>;
}

/// Caches one token from a [`TokenSource`].
///
/// [`TokenCache::get`] returns the cached token while it has more than the
/// refresh margin left; otherwise it fetches a new one. Reading the cached
/// token takes only a read lock held for a clone of an `Arc`, so requests do
/// not queue behind one another (nor behind a refresh in progress while the
/// token is still good). A fetch happens under a separate refresh lock, so
/// concurrent callers that find the token stale wait for one refresh instead
/// of each starting their own. [`TokenCache::invalidate`] drops a token the
/// server rejected (a 401), but only if no one has refreshed it already.
pub struct TokenCache<S> {
    source: S,
    margin: Duration,
    current: RwLock<Option<Arc<AccessToken>>>,
    refresh: Mutex<()>,
    fetches: std::sync::atomic::AtomicU64,
}

impl<S: TokenSource> TokenCache<S> {
    /// A cache that refreshes `margin` before expiry (tokens shorter-lived
    /// than twice the margin are refreshed at half their life).
    pub fn new(source: S, margin: Duration) -> Self {
        Self {
            source,
            margin,
            current: RwLock::new(None),
            refresh: Mutex::new(()),
            fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The token source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// How many tokens were fetched so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A fresh token, fetching one if needed.
    pub async fn get(&self) -> Result<Arc<AccessToken>> {
        if let Some(tok) = self.fresh() {
            return Ok(tok);
        }
        let _refreshing = self.refresh.lock().await;
        // Whoever held the refresh lock before may have fetched one.
        if let Some(tok) = self.fresh() {
            return Ok(tok);
        }
        tracing::debug!("fetching an access token");
        let tok = Arc::new(self.source.fetch_token().await?);
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.write() = Some(tok.clone());
        Ok(tok)
    }

    /// Forgets `rejected` if it is still the cached token, so the next
    /// [`TokenCache::get`] fetches a new one.
    pub async fn invalidate(&self, rejected: &AccessToken) {
        let mut current = self.write();
        if current
            .as_ref()
            .is_some_and(|t| t.issued_at == rejected.issued_at && t.secret == rejected.secret)
        {
            tracing::debug!("access token rejected; it will be refreshed");
            *current = None;
        }
    }

    /// The cached token if it is still good for its refresh margin.
    fn fresh(&self) -> Option<Arc<AccessToken>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current
            .as_ref()
            .filter(|tok| tok.is_fresh(self.margin_for(tok)))
            .cloned()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<AccessToken>>> {
        self.current.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The refresh margin for this token: the configured one, but never more
    /// than half the token's lifetime.
    fn margin_for(&self, tok: &AccessToken) -> Duration {
        let lifetime = tok.expires_at.saturating_duration_since(tok.issued_at);
        self.margin.min(lifetime / 2)
    }
}

impl<S> fmt::Debug for TokenCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out numbered tokens; each fetch waits until released.
    struct Gated {
        gate: tokio::sync::Semaphore,
        n: std::sync::atomic::AtomicU64,
    }

    #[async_trait]
    impl TokenSource for Gated {
        async fn fetch_token(&self) -> Result<AccessToken> {
            if let Ok(permit) = self.gate.acquire().await {
                permit.forget();
            }
            let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(AccessToken::new(
                SecretString::new(format!("t{n}")),
                "Bearer",
                Duration::from_secs(3600),
            ))
        }
    }

    #[tokio::test]
    async fn a_good_token_is_read_while_a_refresh_holds_the_refresh_lock() {
        let cache = Arc::new(TokenCache::new(
            Gated {
                gate: tokio::sync::Semaphore::new(1),
                n: Default::default(),
            },
            Duration::from_secs(60),
        ));
        let first = cache.get().await.unwrap();
        // Someone holds the refresh lock (a refresh in progress).
        let held = cache.refresh.lock().await;
        let again = futures::FutureExt::now_or_never(cache.get())
            .expect("reading a good token waited for the refresh lock")
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        drop(held);
        // Stale callers share one refresh: the second waits for the first.
        cache.invalidate(&first).await;
        let (a, b) = (cache.clone(), cache.clone());
        let one = tokio::spawn(async move { a.get().await.unwrap() });
        let two = tokio::spawn(async move { b.get().await.unwrap() });
        tokio::task::yield_now().await;
        cache.source().gate.add_permits(1);
        let (one, two) = (one.await.unwrap(), two.await.unwrap());
        assert!(Arc::ptr_eq(&one, &two));
        assert_eq!(cache.fetches(), 2);
    }

    /// Hands out tokens of one lifetime, counting its fetches.
    struct Lived(Duration);

    #[async_trait]
    impl TokenSource for Lived {
        async fn fetch_token(&self) -> Result<AccessToken> {
            Ok(AccessToken::new(SecretString::new("t"), "Bearer", self.0))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_are_refreshed_a_margin_before_they_expire() {
        let hour = Duration::from_secs(3600);
        let cache = TokenCache::new(Lived(hour), Duration::from_secs(300));
        cache.get().await.unwrap();
        tokio::time::advance(hour - Duration::from_secs(301)).await;
        cache.get().await.unwrap();
        assert_eq!(cache.fetches(), 1, "still more than the margin left");
        tokio::time::advance(Duration::from_secs(2)).await;
        cache.get().await.unwrap();
        assert_eq!(cache.fetches(), 2, "within the margin: refreshed");
    }

    #[tokio::test(start_paused = true)]
    async fn short_lived_tokens_are_refreshed_at_half_their_life() {
        let life = Duration::from_millis(400);
        let cache = TokenCache::new(Lived(life), Duration::from_secs(60));
        cache.get().await.unwrap();
        tokio::time::advance(Duration::from_millis(199)).await;
        cache.get().await.unwrap();
        assert_eq!(cache.fetches(), 1);
        tokio::time::advance(Duration::from_millis(2)).await;
        cache.get().await.unwrap();
        assert_eq!(cache.fetches(), 2);
    }

    #[test]
    fn absurd_lifetimes_are_capped_not_a_panic() {
        let t = AccessToken::new(SecretString::new("t"), "Bearer", Duration::MAX);
        assert!(t.is_fresh(Duration::from_secs(60)));
        assert!(t.expires_at - t.issued_at <= AccessToken::MAX_LIFETIME);
        assert!(
            !t.is_fresh(Duration::MAX),
            "a margin past any clock is not fresh"
        );
    }
}
