-- Version 2: group membership indexed by member, so the groups of a user
-- (rendering its `groups`, taking it out of every group on delete) are a
-- lookup, not a read of every group. Filled from the stored bodies.

CREATE TABLE scim_members (
    tenant    text COLLATE "C" NOT NULL,
    group_id  text COLLATE "C" NOT NULL,
    member_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, group_id, member_id)
);
CREATE INDEX scim_members_by_member ON scim_members (tenant, member_id);

INSERT INTO scim_members (tenant, group_id, member_id)
SELECT r.tenant, r.id, m ->> 'value'
FROM scim_resources r, jsonb_array_elements(
    CASE WHEN jsonb_typeof(r.body -> 'members') = 'array' THEN r.body -> 'members' ELSE '[]'::jsonb END
) AS m
WHERE r.kind = 'Group' AND jsonb_typeof(m -> 'value') = 'string'
ON CONFLICT DO NOTHING;
