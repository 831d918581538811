-- scim-directory's PostgreSQL schema, version 1: tenants, resources and the
-- change log. Applied by PgStore::connect in one transaction; never edited
-- once released (a change is a new numbered file).

CREATE TABLE scim_tenants (
    id           text COLLATE "C" PRIMARY KEY,
    name         text NOT NULL,
    token_hash   text NOT NULL,
    created      timestamptz NOT NULL,
    token_issued timestamptz NOT NULL
);

-- One row per User or Group. `unique_key` is the lower-cased userName of a
-- user or displayName of a group: the unique index makes the database the
-- judge of uniqueness, so two server processes cannot both create one name.
-- Ids compare bytewise (COLLATE "C") so paging by id is the same order as
-- the other stores.
CREATE TABLE scim_resources (
    tenant        text COLLATE "C" NOT NULL,
    kind          text COLLATE "C" NOT NULL,
    id            text COLLATE "C" NOT NULL,
    unique_key    text COLLATE "C",
    body          jsonb NOT NULL,
    created       timestamptz NOT NULL,
    last_modified timestamptz NOT NULL,
    version       bigint NOT NULL,
    PRIMARY KEY (tenant, kind, id)
);
CREATE UNIQUE INDEX scim_resources_unique ON scim_resources (tenant, kind, unique_key);

-- The change log. Commits of one tenant are serialized by a transaction
-- advisory lock taken before any event is inserted, so within a tenant
-- `seq` order is commit order: a reader that follows `seq > cursor` never
-- skips an event that commits later with a smaller seq.
CREATE TABLE scim_events (
    seq    bigserial PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    at     timestamptz NOT NULL,
    change jsonb NOT NULL
);
CREATE INDEX scim_events_by_tenant ON scim_events (tenant, seq);
