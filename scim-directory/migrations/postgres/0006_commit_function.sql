-- Version 6: a commit in one round trip.
--
-- `scim_commit` does what a commit's transaction did statement by
-- statement (the tenant's commit lock and row lock, each write, the
-- membership index, the events), called as one statement, so a write holds
-- the tenant's lock for as long as the database works on it, not for the
-- five to seven round trips the server made before, each of which waited
-- for the server's process to be scheduled again on a busy machine.
--
-- p_writes is a JSON array of
--   {"op": "put", "kind", "id", "unique_key", "body", "created",
--    "last_modified", "version", "external_id", "display_name"}
--   {"op": "delete", "kind", "id"}
-- applied in order; p_events a JSON array of changes appended in order.
-- Returns true, or false (having written nothing) when the tenant does not
-- exist. A put not based on the stored version raises SQLSTATE SCIM1 (the
-- message names the resource); a taken unique key raises 23505 as the
-- insert or update does.
CREATE FUNCTION scim_commit(p_tenant text, p_writes jsonb, p_events jsonb, p_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    w jsonb;
    n bigint;
    v_kind text;
    v_id text;
    v_version bigint;
    v_members text[];
BEGIN
    -- The advisory lock is the one every commit and `delete_tenant` take
    -- (the server's `tenant_lock!`), evaluated before the row is locked.
    PERFORM pg_advisory_xact_lock(hashtext('scim-directory:events:' || id)) FROM scim_tenants WHERE id = p_tenant FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    FOR w IN SELECT value FROM jsonb_array_elements(p_writes) WITH ORDINALITY ORDER BY ordinality LOOP
        v_kind := w ->> 'kind';
        v_id := w ->> 'id';
        IF w ->> 'op' = 'delete' THEN
            DELETE FROM scim_resources WHERE tenant = p_tenant AND kind = v_kind AND id = v_id;
            IF v_kind = 'Group' THEN
                DELETE FROM scim_members WHERE tenant = p_tenant AND group_id = v_id;
            END IF;
            CONTINUE;
        END IF;
        v_version := (w ->> 'version')::bigint;
        IF v_version <= 1 THEN
            INSERT INTO scim_resources (tenant, kind, id, unique_key, body, created,
                                        last_modified, version, external_id, display_name)
            VALUES (p_tenant, v_kind, v_id, w ->> 'unique_key', w -> 'body',
                    (w ->> 'created')::timestamptz, (w ->> 'last_modified')::timestamptz,
                    v_version, w ->> 'external_id', w ->> 'display_name')
            ON CONFLICT (tenant, kind, id) DO NOTHING;
        ELSE
            UPDATE scim_resources SET unique_key = w ->> 'unique_key', body = w -> 'body',
                created = (w ->> 'created')::timestamptz,
                last_modified = (w ->> 'last_modified')::timestamptz,
                version = v_version, external_id = w ->> 'external_id',
                display_name = w ->> 'display_name'
            WHERE tenant = p_tenant AND kind = v_kind AND id = v_id AND version = v_version - 1;
        END IF;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> 1 THEN
            RAISE EXCEPTION USING ERRCODE = 'SCIM1', MESSAGE = v_kind || ' ' || v_id;
        END IF;
        IF v_kind = 'Group' THEN
            -- The membership index follows the body's members (string
            -- `value`s, as version 2 indexed them): only the difference is
            -- deleted and inserted (set differences, linear in the group's
            -- size), so adding one member writes one row.
            v_members := ARRAY(
                SELECT m ->> 'value'
                FROM jsonb_array_elements(
                    CASE WHEN jsonb_typeof(w -> 'body' -> 'members') = 'array'
                         THEN w -> 'body' -> 'members' ELSE '[]'::jsonb END) m
                WHERE jsonb_typeof(m -> 'value') = 'string');
            DELETE FROM scim_members x
            USING (SELECT member_id FROM scim_members
                   WHERE tenant = p_tenant AND group_id = v_id
                   EXCEPT SELECT unnest(v_members) COLLATE "C") gone
            WHERE x.tenant = p_tenant AND x.group_id = v_id AND x.member_id = gone.member_id;
            INSERT INTO scim_members (tenant, group_id, member_id)
            SELECT p_tenant, v_id, added.member_id
            FROM (SELECT unnest(v_members) COLLATE "C" AS member_id
                  EXCEPT SELECT member_id FROM scim_members
                  WHERE tenant = p_tenant AND group_id = v_id) added;
        END IF;
    END LOOP;
    INSERT INTO scim_events (tenant, at, change)
    SELECT p_tenant, p_at, e.value
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e
    ORDER BY e.ordinality;
    RETURN true;
END $$;
