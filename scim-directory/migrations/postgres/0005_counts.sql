-- Resources per tenant and kind, kept by every commit in the commit's own
-- transaction (commits of one tenant take turns on its advisory lock), so
-- an unfiltered listing's totalResults is one row read instead of a count
-- over the tenant's whole index at every page of an import.
CREATE TABLE scim_counts (
    tenant text COLLATE "C" NOT NULL,
    kind   text COLLATE "C" NOT NULL,
    n      bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (tenant, kind)
);

INSERT INTO scim_counts (tenant, kind, n)
SELECT tenant, kind, count(*) FROM scim_resources GROUP BY tenant, kind;
