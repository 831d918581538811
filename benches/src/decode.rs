//! Decode: pages of Okta users and Graph users into the model, against
//! parsing the same bytes into `serde_json::Value` (the floor any typed
//! decode must meet: it reads every byte once and allocates every string).

use azure_directory::testkit::SimulatedTenant;
use okta_directory::testkit::OktaOrg;

/// Page bodies as each simulated organisation serves them: 200 Okta users a
/// page (Okta's largest), 999 Graph users a page.
pub struct Pages {
    /// Okta users pages.
    pub okta: Vec<Vec<u8>>,
    /// Graph users pages.
    pub graph: Vec<Vec<u8>>,
}

impl Pages {
    /// `pages` pages of each, from generated organisations (awkward data on).
    pub async fn generate(pages: usize) -> Self {
        let okta_org = match OktaOrg::builder()
            .seed(3)
            .users(200 * pages)
            .groups(1)
            .app_users(0)
            .start()
            .await
        {
            Ok(o) => o,
            Err(e) => panic!("simulated Okta org: {e}"),
        };
        let users = okta_org.ground_truth().users;
        let okta = users
            .chunks(200)
            .map(okta_directory::testkit::users_page_body)
            .collect();
        let tenant = match SimulatedTenant::builder()
            .seed(3)
            .users(999 * pages)
            .groups(1)
            .app_users(0)
            .start()
            .await
        {
            Ok(t) => t,
            Err(e) => panic!("simulated tenant: {e}"),
        };
        let data = tenant.data();
        let graph = data
            .users
            .chunks(999)
            .map(azure_directory::testkit::users_page_body)
            .collect();
        Self { okta, graph }
    }

    /// Total bytes of the Okta pages.
    pub fn okta_bytes(&self) -> usize {
        self.okta.iter().map(Vec::len).sum()
    }

    /// Total bytes of the Graph pages.
    pub fn graph_bytes(&self) -> usize {
        self.graph.iter().map(Vec::len).sum()
    }
}

/// Decodes every Okta page into the model; returns the user count.
pub fn okta_typed(pages: &[Vec<u8>]) -> usize {
    pages
        .iter()
        .map(|p| match okta_directory::wire::users_page(p) {
            Ok(users) => users.len(),
            Err(e) => panic!("Okta page: {e}"),
        })
        .sum()
}

/// Decodes every Graph page into the model; returns the user count.
pub fn graph_typed(pages: &[Vec<u8>]) -> usize {
    pages
        .iter()
        .map(|p| match azure_directory::wire::users_page(p) {
            Ok((users, _)) => users.len(),
            Err(e) => panic!("Graph page: {e}"),
        })
        .sum()
}

/// Parses every page into `serde_json::Value`; returns the element count.
pub fn value_floor(pages: &[Vec<u8>]) -> usize {
    pages
        .iter()
        .map(|p| match serde_json::from_slice::<serde_json::Value>(p) {
            Ok(v) => v
                .as_array()
                .or_else(|| v["value"].as_array())
                .map_or(0, Vec::len),
            Err(e) => panic!("page is not JSON: {e}"),
        })
        .sum()
}
