-- Resources per tenant and kind, so an unfiltered listing's totalResults is
-- one row read instead of a count over the tenant's whole index at every
-- page of an import. Kept by triggers in the writing transaction, whatever
-- writes: a server of an older release still running during a rolling
-- upgrade keeps the counts right too. Statement-level triggers over the
-- transition tables, so a bulk load or a tenant's delete updates each count
-- once per statement, not once per row.
CREATE TABLE scim_counts (
    tenant text COLLATE "C" NOT NULL,
    kind   text COLLATE "C" NOT NULL,
    n      bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (tenant, kind)
);

CREATE FUNCTION scim_count_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO scim_counts (tenant, kind, n)
    SELECT tenant, kind, count(*) FROM inserted GROUP BY tenant, kind
    ON CONFLICT (tenant, kind) DO UPDATE SET n = scim_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION scim_count_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE scim_counts c SET n = c.n - d.n
    FROM (SELECT tenant, kind, count(*) AS n FROM deleted GROUP BY tenant, kind) d
    WHERE c.tenant = d.tenant AND c.kind = d.kind;
    RETURN NULL;
END $$;

-- No writes between the count below and the triggers taking over (the
-- migration runs in one transaction).
LOCK TABLE scim_resources IN SHARE MODE;

CREATE TRIGGER scim_resources_count_inserted AFTER INSERT ON scim_resources
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION scim_count_inserted();

CREATE TRIGGER scim_resources_count_deleted AFTER DELETE ON scim_resources
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION scim_count_deleted();

INSERT INTO scim_counts (tenant, kind, n)
SELECT tenant, kind, count(*) FROM scim_resources GROUP BY tenant, kind;
