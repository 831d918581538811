//! `check()`: every probe a sync needs (the token and its scopes, users,
//! groups, the app's users, the System Log when asked for), each problem
//! reported with its fix.

use directory_core::http::url::Url;
use directory_core::{CheckReport, Error, ErrorKind, Result};

use crate::provider::{OktaDirectory, LOGS_SCOPE};

impl OktaDirectory {
    /// Every probe a sync needs, each problem reported with its fix.
    pub(crate) async fn run_check(&self) -> CheckReport {
        let mut report = CheckReport::default();
        let token = match self.client.api.tokens().get().await {
            Ok(t) => t,
            Err(e) => {
                report.push("access token (client credentials, private_key_jwt)", Err(e));
                return report;
            }
        };
        report.push("access token (client credentials, private_key_jwt)", Ok(()));
        self.scope_problems(&token.granted, &mut report);
        let users = self.probe("list users (okta.users.read)", self.limited(&["users"], 1));
        let groups = self.probe(
            "list groups (okta.groups.read)",
            self.limited(&["groups"], 1),
        );
        let app = async {
            match &self.app_id {
                Some(app) => Some(
                    self.probe(
                        "list SAML app users (okta.apps.read)",
                        self.limited(&["apps", app, "users"], 1),
                    )
                    .await,
                ),
                None => None,
            }
        };
        let (users, groups, app) = futures::join!(users, groups, app);
        report.push("list users (okta.users.read)", users);
        report.push("list groups (okta.groups.read)", groups);
        if let Some(app) = app {
            report.push("list SAML app users (okta.apps.read)", app);
        }
        let (name, result) = self.log_probe(&token.granted).await;
        report.push(name, result);
        report
    }

    pub(crate) async fn probe(&self, what: &str, url: Result<Url>) -> Result<()> {
        self.client.get(what, &url?).await.map(|_| ())
    }

    fn scope_problems(&self, granted: &[String], report: &mut CheckReport) {
        if granted.is_empty() {
            return;
        }
        for scope in self.scopes.iter().filter(|s| **s != LOGS_SCOPE) {
            if !granted.iter().any(|g| g == scope) {
                let e = Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "the token was granted without {scope}; grant {scope} on the API \
                         Services app's 'Okta API Scopes' tab"
                    ),
                )
                .with_provider(self.client.name())
                .with_code("insufficient_scope");
                report.push(format!("scope {scope} granted"), Err(e));
            }
        }
    }
}
