//! National clouds: each one fixes the login authority, the Graph root and so
//! the token scope, which must never be mixed.

use std::fmt;

use directory_core::{Error, Result};

/// The Microsoft cloud a tenant lives in.
///
/// Tokens are not interchangeable between clouds: the authority, the Graph
/// host and the `.default` scope all come from the cloud (or from explicit
/// endpoints, for a custom deployment or a simulated tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Cloud {
    /// The global (public) cloud, also used by Microsoft 365 GCC (moderate).
    #[default]
    Global,
    /// US Government L4 (GCC High): `login.microsoftonline.us`, `graph.microsoft.us`.
    UsGovL4,
    /// US Government L5 (DoD): `login.microsoftonline.us`, `dod-graph.microsoft.us`.
    UsGovL5Dod,
    /// China, operated by 21Vianet: `login.chinacloudapi.cn`,
    /// `microsoftgraph.chinacloudapi.cn`.
    China,
}

impl Cloud {
    /// The login authority host, e.g. `https://login.microsoftonline.com`.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGovL4 | Cloud::UsGovL5Dod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The Microsoft Graph root, e.g. `https://graph.microsoft.com`.
    pub fn graph_endpoint(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGovL4 => "https://graph.microsoft.us",
            Cloud::UsGovL5Dod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The stable name used by [`Cloud::parse`] and `AZURE_CLOUD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGovL4 => "usgov",
            Cloud::UsGovL5Dod => "usgov-dod",
            Cloud::China => "china",
        }
    }

    /// Parses a cloud name as an admin would write it: `global`/`public`/`gcc`,
    /// `usgov`/`gcchigh`/`l4`, `dod`/`usgov-dod`/`l5`, `china`/`21vianet`.
    pub fn parse(value: &str) -> Result<Cloud> {
        let v = value.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Ok(match v.as_str() {
            "global" | "public" | "azurepubliccloud" | "gcc" | "commercial" => Cloud::Global,
            "usgov" | "us-gov" | "gcchigh" | "gcc-high" | "l4" | "usgovl4"
            | "azureusgovernment" => Cloud::UsGovL4,
            "dod" | "usgov-dod" | "us-gov-dod" | "l5" | "usgovl5" => Cloud::UsGovL5Dod,
            "china" | "21vianet" | "azurechinacloud" => Cloud::China,
            _ => {
                return Err(Error::config(
                    "cloud",
                    format!(
                        "unknown cloud `{value}`; use global, usgov (GCC High), \
                         usgov-dod (DoD) or china, or set the authority host and \
                         Graph endpoint explicitly"
                    ),
                ))
            }
        })
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `.default` scope for a Graph root: `https://graph.microsoft.us/.default`.
/// The scope follows the Graph host, whatever the authority.
pub(crate) fn default_scope(graph: &directory_core::http::url::Url) -> String {
    format!("{}/.default", graph.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use directory_core::http::url::Url;

    #[test]
    fn each_cloud_has_its_own_hosts_and_scope() {
        let cases = [
            (Cloud::Global, "https://graph.microsoft.com/.default"),
            (Cloud::UsGovL4, "https://graph.microsoft.us/.default"),
            (Cloud::UsGovL5Dod, "https://dod-graph.microsoft.us/.default"),
            (
                Cloud::China,
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
        ];
        for (cloud, scope) in cases {
            let graph = Url::parse(cloud.graph_endpoint()).unwrap();
            assert_eq!(default_scope(&graph), scope);
            assert_eq!(Cloud::parse(cloud.as_str()).unwrap(), cloud);
        }
        assert_eq!(
            Cloud::UsGovL5Dod.authority_host(),
            Cloud::UsGovL4.authority_host()
        );
    }

    #[test]
    fn parse_accepts_admin_spellings_and_names_the_field() {
        assert_eq!(Cloud::parse("GCC High").unwrap(), Cloud::UsGovL4);
        assert_eq!(Cloud::parse("DoD").unwrap(), Cloud::UsGovL5Dod);
        assert_eq!(Cloud::parse("AzureChinaCloud").unwrap(), Cloud::China);
        let e = Cloud::parse("mars").unwrap_err();
        assert!(e.message().starts_with("cloud:"), "{}", e.message());
    }
}
