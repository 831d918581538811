-- Version 4: SCIM filters answered by index, and paging in creation order.
-- Depends on versions 1 and 2 only.
--
-- * `external_id`: the body's `externalId` when it is a string (case-exact,
--   bytewise, so `sw` is an index range).
-- * `display_name`: a group's `displayName` as sent, so a user's `groups`
--   is rendered from the membership index without reading group bodies
--   (a group body holds its whole member list).
-- * `created_seq`: the position in creation order. Taken from a sequence
--   while the tenant's commit lock is held, so a resource created later
--   always sorts after every resource committed before it: paging by
--   offset in this order neither repeats nor skips a resource while
--   others are created. Existing rows are numbered by (created, id).

ALTER TABLE scim_resources ADD COLUMN external_id text COLLATE "C";
ALTER TABLE scim_resources ADD COLUMN display_name text;
ALTER TABLE scim_resources ADD COLUMN created_seq bigint;

UPDATE scim_resources SET
    external_id = CASE WHEN jsonb_typeof(body -> 'externalId') = 'string'
                       THEN body ->> 'externalId' END,
    display_name = CASE WHEN kind = 'Group' AND jsonb_typeof(body -> 'displayName') = 'string'
                        THEN body ->> 'displayName' END;

UPDATE scim_resources r SET created_seq = o.n
FROM (SELECT tenant, kind, id, row_number() OVER (ORDER BY created, tenant, kind, id) AS n
      FROM scim_resources) o
WHERE r.tenant = o.tenant AND r.kind = o.kind AND r.id = o.id;

CREATE SEQUENCE scim_resources_created_seq OWNED BY scim_resources.created_seq;
SELECT setval('scim_resources_created_seq',
              COALESCE((SELECT max(created_seq) FROM scim_resources), 0) + 1, false);
ALTER TABLE scim_resources
    ALTER COLUMN created_seq SET DEFAULT nextval('scim_resources_created_seq'),
    ALTER COLUMN created_seq SET NOT NULL;

CREATE UNIQUE INDEX scim_resources_by_created ON scim_resources (tenant, kind, created_seq);
CREATE INDEX scim_resources_by_external_id ON scim_resources (tenant, kind, external_id);
