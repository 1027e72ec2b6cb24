-- ---------------------------------------------------------------------------
-- Moving a trained version between servers (src/transfer.c,
-- src/nn/export.c; docs/scale.md): export_model() packs a version's weights
-- and registry row into one checksummed bytea, import_model() checks it and
-- installs it as a version of a model on another server, e.g. on each shard
-- of a user-sharded deployment.  active_versions() says which version a
-- server serves, with the checksum of its weights.
-- ---------------------------------------------------------------------------

CREATE FUNCTION _pack_model(meta jsonb, weights bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'animerec_pack_model'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION _pack_model(jsonb, bytea) IS
    'internal: the export envelope (magic ANRECEX1, format version, lengths, metadata, weights, CRC32C) of a validated weight blob and its metadata';

CREATE FUNCTION _unpack_model(model bytea, OUT meta jsonb, OUT weights bytea)
    AS 'MODULE_PATHNAME', 'animerec_unpack_model'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION _unpack_model(bytea) IS
    'internal: the metadata and weights of an export, after checking its magic (22P03), format version (0A000), lengths, checksum and weights (XX001)';

-- _weights_checksum(weights): the CRC32C a weight blob ends with, as 8 hex digits
CREATE FUNCTION _weights_checksum(weights bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
SELECT pg_catalog.lpad(pg_catalog.upper(pg_catalog.to_hex(
           (pg_catalog.get_byte(weights, pg_catalog.octet_length(weights) - 1)::bigint << 24)
         | (pg_catalog.get_byte(weights, pg_catalog.octet_length(weights) - 2)::bigint << 16)
         | (pg_catalog.get_byte(weights, pg_catalog.octet_length(weights) - 3)::bigint << 8)
         |  pg_catalog.get_byte(weights, pg_catalog.octet_length(weights) - 4)::bigint)), 8, '0')
$$;
COMMENT ON FUNCTION _weights_checksum(bytea) IS
    'internal: the CRC32C stored at the end of a weight blob (src/nn/format.c), as 8 hexadecimal digits';

CREATE FUNCTION export_model(name text, version int DEFAULT NULL) RETURNS bytea
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    m animerec.models;
BEGIN
    IF export_model.name IS NULL THEN
        RAISE EXCEPTION 'name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM animerec._check_manager(export_model.name);
    SELECT * INTO m FROM animerec.models r
     WHERE r.name = export_model.name
       AND CASE WHEN export_model.version IS NULL THEN r.active ELSE r.version = export_model.version END;
    IF NOT FOUND OR m.status <> 'ready' THEN
        RAISE EXCEPTION 'model "%" has no %', export_model.name,
                coalesce('ready version ' || export_model.version, 'active version')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Ready versions: ' || coalesce((SELECT string_agg(r.version::text, ', ' ORDER BY r.version)
                                                  FROM animerec.models r
                                                 WHERE r.name = export_model.name AND r.status = 'ready'), 'none') || '.';
    END IF;
    RETURN animerec._pack_model(
        pg_catalog.jsonb_build_object(
            'animerec_version', (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'animerec'),
            'exported_at', pg_catalog.now(),
            'model', pg_catalog.to_jsonb(m) - ARRAY['weights', 'active', 'status', 'owner', 'train_pid',
                                                    'train_backend_start'],
            'training_log', (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(l) - ARRAY['name', 'version'] ORDER BY l.epoch)
                               FROM animerec.training_log l
                              WHERE l.name = m.name AND l.version = m.version)),
        m.weights);
END
$$;
COMMENT ON FUNCTION export_model(text, int) IS
    'version VERSION (NULL: the active one) of model NAME as one bytea: its weights, its registry row and training_log, checksummed (CRC32C), for animerec.import_model() on another server; owner, members of animerec_admin and superusers only';

CREATE FUNCTION import_model(name text, model bytea, activate boolean DEFAULT true,
                             ratings regclass DEFAULT NULL, user_tags regclass DEFAULT NULL,
                             version int DEFAULT NULL) RETURNS int
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    meta jsonb;
    w bytea;
    r animerec.models;
    v int;
    tbl regclass;
    utbl regclass;
    col text;
    old_weights bytea;
BEGIN
    IF import_model.name IS NULL OR import_model.model IS NULL THEN
        RAISE EXCEPTION 'name and model must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT u.meta, u.weights INTO meta, w FROM animerec._unpack_model(import_model.model) u;
    r := pg_catalog.jsonb_populate_record(NULL::animerec.models, meta->'model');
    v := coalesce(import_model.version, r.version);

    -- serving reads the ratings (and user tags) here: they must exist with the model's columns
    tbl := coalesce(import_model.ratings, pg_catalog.to_regclass(r.ratings_table));
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'ratings table % of the imported model does not exist', r.ratings_table
            USING ERRCODE = 'undefined_table',
                  HINT = 'Pass ratings => the table of this server that holds the users'' ratings.';
    END IF;
    FOREACH col IN ARRAY ARRAY[r.user_col, r.item_col, r.rating_col, r.order_col] LOOP
        IF col IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                            WHERE a.attrelid = tbl AND a.attname = col
                                              AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'ratings table % has no column "%" that the imported model reads', tbl, col
                USING ERRCODE = 'undefined_column';
        END IF;
    END LOOP;
    IF r.user_tags_table IS NOT NULL THEN
        utbl := coalesce(import_model.user_tags, pg_catalog.to_regclass(r.user_tags_table));
        IF utbl IS NULL THEN
            RAISE EXCEPTION 'user tags table % of the imported model does not exist', r.user_tags_table
                USING ERRCODE = 'undefined_table',
                      HINT = 'Pass user_tags => the table of this server that holds the user tags.';
        END IF;
    END IF;

    -- ownership as for train: a new name becomes the caller's, a taken one needs its manager
    INSERT INTO animerec.model_owners (name) VALUES (import_model.name) ON CONFLICT DO NOTHING;
    PERFORM animerec._check_manager(import_model.name);
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('animerec.train'),
                                                pg_catalog.hashtext(import_model.name)) THEN
        RAISE EXCEPTION 'model "%" is being trained by another session', import_model.name
            USING ERRCODE = 'lock_not_available',
                  HINT = 'Wait for the training to finish, or import under another name.';
    END IF;

    SELECT m.weights INTO old_weights FROM animerec.models m
     WHERE m.name = import_model.name AND m.version = v;
    IF FOUND AND old_weights IS DISTINCT FROM w THEN
        RAISE EXCEPTION 'model "%" already has a version % with other weights', import_model.name, v
            USING ERRCODE = 'duplicate_object',
                  HINT = format('Import it as another version with version =>, or drop this one with animerec.drop_model(%L, %s).',
                                import_model.name, v);
    ELSIF NOT FOUND THEN
        INSERT INTO animerec.models (name, version, status, ratings_table, user_col, item_col, rating_col,
                                     order_col, items_table, item_key, tags_col, user_tags_table,
                                     hyperparams, metrics, n_rows, n_users, n_items, n_tags, epochs_done,
                                     best_epoch, bytes, created_at, finished_at, weights, tag_vocab,
                                     user_tag_vocab)
        VALUES (import_model.name, v, 'ready', tbl::text, r.user_col, r.item_col, r.rating_col,
                r.order_col, r.items_table, r.item_key, r.tags_col, utbl::text,
                r.hyperparams,
                r.metrics || pg_catalog.jsonb_build_object('imported', pg_catalog.jsonb_build_object(
                    'at', pg_catalog.now(), 'model', r.name, 'version', r.version,
                    'from_animerec', meta->'animerec_version')),
                r.n_rows, r.n_users, r.n_items, r.n_tags, r.epochs_done, r.best_epoch, r.bytes,
                r.created_at, r.finished_at, w, r.tag_vocab, r.user_tag_vocab);
        INSERT INTO animerec.training_log (name, version, epoch, loss, val_hr, val_ndcg, seconds,
                                           positions_per_s, logged_at)
        SELECT import_model.name, v, l.epoch, l.loss, l.val_hr, l.val_ndcg, l.seconds,
               l.positions_per_s, l.logged_at
          FROM pg_catalog.jsonb_populate_recordset(NULL::animerec.training_log,
                   CASE WHEN pg_catalog.jsonb_typeof(meta->'training_log') = 'array'
                        THEN meta->'training_log' ELSE '[]' END) l;
    END IF;
    IF import_model.activate THEN
        PERFORM animerec.activate(import_model.name, v);
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION import_model(text, bytea, boolean, regclass, regclass, int) IS
    'install an animerec.export_model() bytea as version VERSION (NULL: the exported number) of model NAME after checking its format, checksum and weights, and with ACTIVATE make it the active version in the same transaction; RATINGS and USER_TAGS name this server''s tables when they differ from the exporting server''s; importing the same weights again only activates them; NAME becomes the caller''s when new, as with train, and otherwise needs its owner, animerec_admin or a superuser';

CREATE FUNCTION active_versions(name text DEFAULT NULL,
    OUT name text, OUT version int, OUT created_at timestamptz, OUT checksum text,
    OUT imported_from jsonb)
    RETURNS SETOF record
    LANGUAGE sql STABLE
AS $$
SELECT m.name, m.version, m.created_at, animerec._weights_checksum(m.weights), m.metrics->'imported'
  FROM animerec.models m
 WHERE m.active AND ($1 IS NULL OR m.name = $1)
 ORDER BY m.name
$$;
COMMENT ON FUNCTION active_versions(text) IS
    'the active version of model NAME (NULL: of every model the caller may see) on this server, when it was trained, the CRC32C of its weights (equal on every server that holds the same weights) and, for an imported version, where it came from';
