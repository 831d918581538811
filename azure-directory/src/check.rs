//! `check()`: every probe a sync needs, each problem reported with its fix.

use directory_core::{CheckReport, Error, ErrorKind, Result};

use crate::client::Permission;
use crate::decode::WireServicePrincipal;
use crate::provider::{path_segment, Inner, PERM_APPS, PERM_GROUPS, PERM_MEMBERS, PERM_USERS};

/// Each needed permission and the roles that satisfy it.
const NEEDED: &[(&str, &[&str])] = &[
    (
        "User.Read.All",
        &[
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
    ),
    (
        "GroupMember.Read.All",
        &[
            "GroupMember.Read.All",
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
    ),
];
const NEEDED_FOR_APP: (&str, &[&str]) = (
    "Application.Read.All",
    &[
        "Application.Read.All",
        "Application.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
);

const TOKEN_PROBE: &str = "get an access token (tenant, client id, credential)";

pub(crate) async fn run(inner: &Inner) -> CheckReport {
    let mut report = CheckReport::default();
    if let Some(cert) = &inner.certificate {
        report.push(
            format!("certificate {}", cert.thumbprint()),
            certificate(inner),
        );
    }
    let token = match inner.client.api.tokens().get().await {
        Ok(t) => t,
        Err(e) => {
            report.push(TOKEN_PROBE, Err(e));
            return report;
        }
    };
    report.push(TOKEN_PROBE, Ok(()));
    if let Some(roles) = crate::auth::token_roles(&token.secret) {
        report.push(
            "application permissions granted with admin consent",
            roles_granted(inner, &roles),
        );
    }
    directory_probes(inner, &mut report).await;
    if let Some(sp) = &inner.service_principal_id {
        app_probes(inner, sp, &mut report).await;
    }
    report
}

/// Users, groups and (when there is a group) members.
async fn directory_probes(inner: &Inner, report: &mut CheckReport) {
    let users = probe(inner, "list users", "users?$select=id&$top=1", PERM_USERS).await;
    report.push(format!("list users ({PERM_USERS})"), users);
    let group = first_group(inner).await;
    let group_id = group.as_ref().ok().cloned().flatten();
    report.push(format!("list groups ({PERM_GROUPS})"), group.map(|_| ()));
    if let Some(gid) = group_id {
        let path = format!("groups/{gid}/members?$select=id&$top=1");
        let members = probe(inner, "list group members", &path, PERM_MEMBERS).await;
        report.push(format!("list group members ({PERM_MEMBERS})"), members);
    }
}

/// The SSO app's service principal and its assignments.
async fn app_probes(inner: &Inner, sp: &str, report: &mut CheckReport) {
    let found = service_principal(inner, sp).await;
    let ok = found.is_ok();
    report.push(format!("SSO app's service principal ({PERM_APPS})"), found);
    if ok {
        let path = format!("servicePrincipals/{sp}/appRoleAssignedTo?$top=1");
        let what = "list the SSO app's assignments";
        report.push(what, probe(inner, what, &path, PERM_APPS).await);
    }
}

fn certificate(inner: &Inner) -> Result<()> {
    let Some(cert) = &inner.certificate else {
        return Ok(());
    };
    match cert.not_after() {
        Some(t) if cert.is_expired() => Err(Error::new(
            ErrorKind::ExpiredCredential,
            format!(
                "the certificate {} ({}) expired on {}; create a new one, upload it under App \
                 registrations -> Certificates & secrets and update the configured certificate",
                cert.thumbprint(),
                cert.subject(),
                t.format("%Y-%m-%d")
            ),
        )
        .with_provider(&inner.name)),
        _ => Ok(()),
    }
}

fn roles_granted(inner: &Inner, roles: &[String]) -> Result<()> {
    let mut needed: Vec<(&str, &[&str])> = NEEDED.to_vec();
    if inner.service_principal_id.is_some() {
        needed.push(NEEDED_FOR_APP);
    }
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(_, any)| {
            !any.iter()
                .any(|r| roles.iter().any(|have| have.eq_ignore_ascii_case(r)))
        })
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let what = if roles.is_empty() {
        "the access token carries no application permissions at all: admin consent was not granted"
            .to_string()
    } else {
        "the access token lacks some application permissions".to_string()
    };
    Err(Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "{what}. Missing: {}. Add them for application `{}` under App registrations -> API \
             permissions -> Microsoft Graph -> Application permissions, then press 'Grant admin \
             consent'",
            missing.join(", "),
            inner.client_id
        ),
    )
    .with_provider(&inner.name)
    .with_code("missingRoles"))
}

async fn probe(inner: &Inner, what: &str, path: &str, need: Permission) -> Result<()> {
    let url = inner.client.v1(path)?;
    inner.client.get(what, &url, need).await.map(|_| ())
}

async fn first_group(inner: &Inner) -> Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let url = inner.client.v1("groups?$select=id&$top=1")?;
    let page = inner
        .client
        .page::<Id>("list groups", &url, PERM_GROUPS)
        .await?;
    Ok(page.value.into_iter().next().map(|g| g.id))
}

async fn service_principal(inner: &Inner, sp: &str) -> Result<()> {
    let sp = path_segment("service_principal_id", sp)?;
    let url = inner.client.v1(&format!(
        "servicePrincipals/{sp}?$select=id,appId,displayName"
    ))?;
    let resp = inner
        .client
        .api
        .get("read the SSO app's service principal", &url)
        .await?;
    if resp.is_success() {
        return Ok(());
    }
    let err = inner
        .client
        .graph_error("read the SSO app's service principal", &resp, PERM_APPS);
    if resp.status != 404 {
        return Err(err);
    }
    let message = not_found_message(inner, sp, by_app_id(inner, sp).await);
    let mut out = Error::new(ErrorKind::NotFound, message)
        .with_provider(&inner.name)
        .with_status(404);
    if let Some(c) = err.code() {
        out = out.with_code(c.to_string());
    }
    if let Some(r) = err.request_id() {
        out = out.with_request_id(r.to_string());
    }
    Err(out)
}

/// What to say when the service principal id was not found: the mix-up
/// with an application id when Graph knows it as one, else where to look.
fn not_found_message(inner: &Inner, sp: &str, as_app: Option<WireServicePrincipal>) -> String {
    match as_app {
        Some(real) => {
            let name = real.display_name.as_deref().unwrap_or("the app");
            format!(
                "`{sp}` is the Application (client) ID of `{name}`, not its service principal's \
                 object id. Set the service principal id (AZURE_SERVICE_PRINCIPAL_ID) to `{}`, the \
                 Object ID under Enterprise applications -> {name} -> Overview",
                real.id
            )
        }
        None if sp.eq_ignore_ascii_case(&inner.client_id) => format!(
            "`{sp}` is this sync app's Application (client) ID, not the SSO app's service \
             principal object id; use the Object ID under Enterprise applications -> (your SSO \
             app) -> Overview"
        ),
        None => format!(
            "service principal `{sp}` was not found in tenant `{}`. Use the Object ID under \
             Enterprise applications -> (your SSO app) -> Overview, not the Application ID and not \
             the app registration's Object ID",
            inner.tenant_id
        ),
    }
}

/// Looks `id` up as an application (client) id, through Graph's alternate key.
async fn by_app_id(inner: &Inner, id: &str) -> Option<WireServicePrincipal> {
    let url = inner
        .client
        .v1(&format!(
            "servicePrincipals(appId='{id}')?$select=id,appId,displayName"
        ))
        .ok()?;
    let resp = inner
        .client
        .api
        .get("look the id up as an application id", &url)
        .await
        .ok()?;
    if !resp.is_success() {
        return None;
    }
    resp.json::<WireServicePrincipal>("service principal").ok()
}
