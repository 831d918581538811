-- sync-runner's PostgreSQL schema, version 1: connections with their
-- leases, kept sync state, held plans and the run history. Applied by
-- PgStore::connect in one transaction; never edited once released (a
-- change is a new numbered file). Ids compare bytewise (COLLATE "C"), as
-- in the in-memory store.

-- One row per connection: the connection itself (serde JSON, so its
-- settings and schedule can grow without a migration), the columns the
-- claim query filters on, and the lease. `lease_token` is the last fencing
-- token handed out; it only grows. A lease is live while
-- `lease_expires_at` is after the claimer's `now`; released, it is NULL.
CREATE TABLE runner_connections (
    id                   text COLLATE "C" PRIMARY KEY,
    org_key              text COLLATE "C" NOT NULL,
    enabled              boolean NOT NULL,
    connection           jsonb NOT NULL,
    due_at               timestamptz NOT NULL,
    worker_id            text,
    lease_token          bigint NOT NULL DEFAULT 0,
    lease_expires_at     timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_applied_hash    text
);
-- The claim: enabled connections by due time.
CREATE INDEX runner_connections_due ON runner_connections (due_at, id) WHERE enabled;
-- "Is this org key leased by anyone": only leased rows are indexed.
CREATE INDEX runner_connections_org_leases ON runner_connections (org_key, lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;

-- The last complete snapshot (gzip-compressed JSON, stored as is) and the
-- provider's sync state (JSON text, kept byte for byte). Apart from the
-- connection row, so a heartbeat rewrites a small row.
CREATE TABLE runner_saved_syncs (
    connection_id text COLLATE "C" PRIMARY KEY
        REFERENCES runner_connections (id) ON DELETE CASCADE,
    snapshot      bytea NOT NULL,
    state         text NOT NULL
);

-- At most one plan per connection waits for an admin's review.
CREATE TABLE runner_held_plans (
    connection_id text COLLATE "C" PRIMARY KEY
        REFERENCES runner_connections (id) ON DELETE CASCADE,
    plan          jsonb NOT NULL,
    safety        text NOT NULL,
    held_at       timestamptz NOT NULL
);

-- The run history, in the order runs were written. `kind` and `outcome`
-- are the serde forms of RunKind and RunOutcome (a failure carries the
-- stage, error kind, message and check() fixes).
CREATE TABLE runner_runs (
    seq            bigserial PRIMARY KEY,
    connection_id  text COLLATE "C" NOT NULL
        REFERENCES runner_connections (id) ON DELETE CASCADE,
    worker_id      text NOT NULL,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL,
    kind           jsonb NOT NULL,
    requests       bigint,
    creates        bigint NOT NULL,
    updates        bigint NOT NULL,
    reactivations  bigint NOT NULL,
    deactivations  bigint NOT NULL,
    outcome        jsonb NOT NULL
);
CREATE INDEX runner_runs_connection ON runner_runs (connection_id, seq);
