-- Version 3: tenant administration. A tenant can be suspended; its token
-- can be revoked (no hash); a rotation keeps the previous token's hash
-- until `previous_token_expires` (the overlap window). Deleting a tenant
-- deletes its rows in every table by `tenant`, led by the primary keys and
-- the events index.

ALTER TABLE scim_tenants
    ALTER COLUMN token_hash DROP NOT NULL,
    ADD COLUMN previous_token_hash text,
    ADD COLUMN previous_token_expires timestamptz,
    ADD COLUMN status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'suspended'));
