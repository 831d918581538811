//! Tenant administration on [`ScimService`]: create, list, suspend and
//! resume, delete with all data, rotate a token with an overlap window, and
//! revoke.
//!
//! Every change is one atomic step on the tenant's record
//! ([`Store::modify_tenant`](crate::Store::modify_tenant)), so two
//! operators (or two servers) acting on one tenant at once lose neither
//! change: a suspension made while a token is rotated stays. Tokens are only ever
//! stored as SHA-256 hashes; a plain token exists only in the
//! [`SecretString`] a creation or rotation returns.

use std::time::Duration;

use directory_core::{Error, ErrorKind, SecretString};

use crate::service::ScimService;
use crate::store::TenantChange;
use crate::tenant::{self, NewTenant, TenantInfo, TenantRecord, TenantStatus};
use crate::StoreError;

impl ScimService {
    /// Creates a tenant with a fresh token. The token is in the result and
    /// nowhere else: only its hash is stored.
    pub async fn create_tenant(&self, tenant_id: &str, name: &str) -> Result<NewTenant, Error> {
        tenant::validate_tenant_id(tenant_id)?;
        let token = tenant::generate_token();
        let record = TenantRecord::new(tenant_id, name, &token, self.now());
        self.store()
            .insert_tenant(&record)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::config("tenant_id", format!("{tenant_id} already exists"))
                }
                other => other.into(),
            })?;
        Ok(NewTenant {
            tenant_id: tenant_id.into(),
            endpoint: self.endpoint(tenant_id),
            token,
        })
    }

    /// A tenant's record.
    pub async fn tenant(&self, tenant_id: &str) -> Result<TenantRecord, Error> {
        self.store()
            .tenant(tenant_id)
            .await?
            .ok_or_else(|| not_found(tenant_id))
    }

    /// Every tenant, by id: status and dates, never a token or a hash.
    pub async fn tenants(&self) -> Result<Vec<TenantInfo>, Error> {
        let all = self.store().tenants().await?;
        Ok(all.iter().map(TenantRecord::info).collect())
    }

    /// Issues a new token. The previous one keeps working for `overlap`
    /// (until the IdP has the new one pasted in), then stops; with
    /// `Duration::ZERO` it stops at once. A token from before the previous
    /// rotation stops at once. Works after [`ScimService::revoke_tokens`]
    /// too (then nothing overlaps).
    pub async fn rotate_token(
        &self,
        tenant_id: &str,
        overlap: Duration,
    ) -> Result<SecretString, Error> {
        let overlap = chrono::Duration::from_std(overlap)
            .map_err(|_| Error::config("overlap", "use an overlap shorter than 100 years"))?;
        let now = self.now();
        let token = tenant::generate_token();
        let hash = tenant::hash_token(token.expose_secret());
        self.modify(tenant_id, &|record: &mut TenantRecord| {
            let previous = record.token_hash.take().filter(|_| !overlap.is_zero());
            record.previous_token_expires = previous.as_ref().map(|_| now + overlap);
            record.previous_token_hash = previous;
            record.token_hash = Some(hash.clone());
            record.token_issued = now;
        })
        .await?;
        Ok(token)
    }

    /// Revokes every token of the tenant at once (the current one and a
    /// rotated one still in its overlap window). Issue a new one with
    /// [`ScimService::rotate_token`].
    pub async fn revoke_tokens(&self, tenant_id: &str) -> Result<(), Error> {
        self.modify(tenant_id, &|record: &mut TenantRecord| {
            record.token_hash = None;
            record.previous_token_hash = None;
            record.previous_token_expires = None;
        })
        .await
    }

    /// Suspends a tenant: every SCIM request gets a 401 until
    /// [`ScimService::resume_tenant`]; its data and tokens are kept.
    pub async fn suspend_tenant(&self, tenant_id: &str) -> Result<(), Error> {
        self.set_status(tenant_id, TenantStatus::Suspended).await
    }

    /// Resumes a suspended tenant: its tokens work again.
    pub async fn resume_tenant(&self, tenant_id: &str) -> Result<(), Error> {
        self.set_status(tenant_id, TenantStatus::Active).await
    }

    /// Deletes a tenant with all its data (resources, memberships, change
    /// log, tokens) in one transaction. A request in flight that was
    /// authorized before the delete writes nothing after it (the store
    /// checks the tenant in the write's own transaction) and gets a 404.
    pub async fn delete_tenant(&self, tenant_id: &str) -> Result<(), Error> {
        let deleted = self.store().delete_tenant(tenant_id).await;
        self.tenant_cache().forget(tenant_id);
        if deleted? {
            Ok(())
        } else {
            Err(not_found(tenant_id))
        }
    }

    async fn set_status(&self, tenant_id: &str, status: TenantStatus) -> Result<(), Error> {
        self.modify(tenant_id, &|record: &mut TenantRecord| {
            record.status = status
        })
        .await
    }

    /// Changes the tenant's record in one atomic step.
    async fn modify(&self, tenant_id: &str, change: &TenantChange<'_>) -> Result<(), Error> {
        let changed = self.store().modify_tenant(tenant_id, change).await;
        match changed {
            Ok(Some(record)) => {
                self.tenant_cache().put(&record);
                Ok(())
            }
            Ok(None) => {
                self.tenant_cache().forget(tenant_id);
                Err(not_found(tenant_id))
            }
            Err(e) => {
                // Whether it was written is unknown: read it again next time.
                self.tenant_cache().forget(tenant_id);
                Err(e.into())
            }
        }
    }
}

fn not_found(tenant_id: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("no SCIM tenant {tenant_id}"))
}
