-- animerec_router 0.3.0: animerec's serving calls sent by PL/Proxy to the
-- shard that holds each user (docs/scale.md, "Shards").
--
-- The cluster is the SQL/MED server animerec_shards of PL/Proxy's foreign
-- data wrapper, which the administrator creates:
--
--   CREATE SERVER animerec_shards FOREIGN DATA WRAPPER plproxy
--       OPTIONS (p0 'host=a dbname=reco', p1 'host=b dbname=reco',
--                p2 'host=c dbname=reco', p3 'host=a dbname=reco');
--   CREATE USER MAPPING FOR PUBLIC SERVER animerec_shards;
--   GRANT USAGE ON FOREIGN SERVER animerec_shards TO PUBLIC;
--
-- PL/Proxy wants a power of two of partitions; several partitions may name
-- the same database (they then share one connection and RUN ON ALL reaches
-- it once).  A user's rows live on the database of partition
-- partition_of(user_id) = hashint8(user_id) & (partitions - 1); every shard
-- has animerec with the same model (animerec.import_model, see publish()).
\echo Use "CREATE EXTENSION animerec_router" to load this file. \quit

-- partitions(): the cluster's partitions and connection strings, from the server's options
CREATE FUNCTION partitions(OUT partition int, OUT connstr text)
    RETURNS SETOF record
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT substr(o.key, 2)::int, o.value
  FROM pg_foreign_server s, pg_options_to_table(s.srvoptions) o (key, value)
 WHERE s.srvname = 'animerec_shards' AND o.key ~ '^p[0-9]+$'
 ORDER BY 1
$$;
COMMENT ON FUNCTION partitions() IS
    'the partitions of the PL/Proxy cluster animerec_shards (options p0, p1, ... of that server) and their connection strings';

-- partition_of(user_id): the partition whose database holds the user's rows
CREATE FUNCTION partition_of(user_id bigint) RETURNS int
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT hashint8(user_id) & ((SELECT count(*)::int FROM animerec_router.partitions()) - 1)
$$;
COMMENT ON FUNCTION partition_of(bigint) IS
    'the partition of animerec_shards whose database holds the rows of user USER_ID: hashint8(user_id) & (partitions - 1), as PL/Proxy routes RUN ON hashint8(user_id); load each user''s ratings there';

-- ---- serving: one user goes to its partition, the rest to any or all ----

CREATE FUNCTION recommend(user_id bigint, k int DEFAULT 10, model text DEFAULT NULL,
                          exclude_seen boolean DEFAULT true)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    RUN ON hashint8(user_id);
    SELECT r.rank, r.item_id, r.score, r.probability, r.personalized FROM animerec.recommend(user_id, k, model, exclude_seen) r;
$$;
COMMENT ON FUNCTION recommend(bigint, int, text, boolean) IS
    'animerec.recommend on the shard of USER_ID (RUN ON hashint8(user_id)); an unreachable shard fails its users'' calls only';

CREATE FUNCTION recommend_for_history(item_ids bigint[], ratings real[] DEFAULT NULL,
                                      k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    RUN ON ANY;
    SELECT r.rank, r.item_id, r.score, r.probability, r.personalized FROM animerec.recommend_for_history(item_ids, ratings, k, model) r;
$$;
COMMENT ON FUNCTION recommend_for_history(bigint[], real[], int, text) IS
    'animerec.recommend_for_history on any shard (every shard holds the model)';

CREATE FUNCTION recommend_for_embedding(embedding real[], k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    RUN ON ANY;
    SELECT r.rank, r.item_id, r.score, r.probability, r.personalized FROM animerec.recommend_for_embedding(embedding, k, model) r;
$$;
COMMENT ON FUNCTION recommend_for_embedding(real[], int, text) IS
    'animerec.recommend_for_embedding on any shard';

CREATE FUNCTION similar_items(item_id bigint, k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real)
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    RUN ON ANY;
    SELECT r.rank, r.item_id, r.score FROM animerec.similar_items(item_id, k, model) r;
$$;
COMMENT ON FUNCTION similar_items(bigint, int, text) IS
    'animerec.similar_items on any shard';

CREATE FUNCTION explain(user_id bigint, item_id bigint, model text DEFAULT NULL, n int DEFAULT 3)
    RETURNS TABLE (rank int, history_item_id bigint, contribution double precision, "position" int)
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    RUN ON hashint8(user_id);
    SELECT r.rank, r.history_item_id, r.contribution, r."position" FROM animerec.explain(user_id, item_id, model, n) r;
$$;
COMMENT ON FUNCTION explain(bigint, bigint, text, int) IS
    'animerec.explain on the shard of USER_ID (RUN ON hashint8(user_id)): the user''s history items that most raised ITEM_ID''s log-probability, read there with the connecting role''s own privileges';

CREATE FUNCTION _recommend_all_everyone(k int, model text)
    RETURNS TABLE (user_id bigint, rank int, item_id bigint, score real, probability real,
                   personalized boolean, model_version int)
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    RUN ON ALL;
    SELECT r.user_id, r.rank, r.item_id, r.score, r.probability, r.personalized, r.model_version FROM animerec.recommend_all(k, model) r;
$$;
COMMENT ON FUNCTION _recommend_all_everyone(int, text) IS
    'internal: animerec.recommend_all for every user of every shard (RUN ON ALL)';

CREATE FUNCTION _recommend_all_split(users bigint[], k int, model text)
    RETURNS TABLE (user_id bigint, rank int, item_id bigint, score real, probability real,
                   personalized boolean, model_version int)
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    SPLIT users;
    RUN ON hashint8(users);
    SELECT r.user_id, r.rank, r.item_id, r.score, r.probability, r.personalized, r.model_version FROM animerec.recommend_all(k, model, users) r;
$$;
COMMENT ON FUNCTION _recommend_all_split(bigint[], int, text) IS
    'internal: animerec.recommend_all for the given users, each shard sent its own users (SPLIT users)';

CREATE FUNCTION recommend_all(k int DEFAULT 10, model text DEFAULT NULL, users bigint[] DEFAULT NULL)
    RETURNS TABLE (user_id bigint, rank int, item_id bigint, score real, probability real,
                   personalized boolean, model_version int)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF recommend_all.users IS NULL THEN
        RETURN QUERY SELECT * FROM animerec_router._recommend_all_everyone(recommend_all.k, recommend_all.model);
    ELSE
        RETURN QUERY SELECT * FROM animerec_router._recommend_all_split(recommend_all.users, recommend_all.k,
                                                                        recommend_all.model);
    END IF;
END
$$;
COMMENT ON FUNCTION recommend_all(int, text, bigint[]) IS
    'animerec.recommend_all on every shard (RUN ON ALL), or for the given USERS on their shards (SPLIT); each user once, users ascending within a shard but not across shards: ORDER BY user_id, rank when the order matters';

-- ---- publishing a model version to every shard, and what each one serves ----

CREATE FUNCTION _import_on(partition_nr int, name text, model bytea, activate boolean, ratings text)
    RETURNS int
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    RUN ON partition_nr;
    SELECT animerec.import_model(name, model, activate, ratings::regclass) AS _import_on;
$$;
COMMENT ON FUNCTION _import_on(int, text, bytea, boolean, text) IS
    'internal: animerec.import_model on the database of one partition';

CREATE FUNCTION _active_versions_on(partition_nr int, model text,
    OUT name text, OUT version int, OUT created_at timestamptz, OUT checksum text)
    RETURNS SETOF record
    LANGUAGE plproxy
AS $$
    CLUSTER 'animerec_shards';
    RUN ON partition_nr;
    SELECT a.name, a.version, a.created_at, a.checksum FROM animerec.active_versions(model) a;
$$;
COMMENT ON FUNCTION _active_versions_on(int, text) IS
    'internal: animerec.active_versions on the database of one partition';

CREATE FUNCTION publish(name text, model bytea, activate boolean DEFAULT true, ratings text DEFAULT NULL)
    RETURNS TABLE (partition int, version int, error text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p int;
BEGIN
    FOR p IN SELECT s.partition FROM animerec_router.partitions() s LOOP
        partition := p;
        BEGIN
            version := animerec_router._import_on(p, publish.name, publish.model, publish.activate,
                                                  publish.ratings);
            error := NULL;
        EXCEPTION WHEN OTHERS THEN
            version := NULL;
            error := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION publish(text, bytea, boolean, text) IS
    'animerec.import_model(NAME, MODEL, ACTIVATE, RATINGS) on the database of every partition, each in its own transaction: a row per partition with the version imported or the error; a shard that failed keeps serving the version it had (see versions())';

CREATE FUNCTION versions(model text DEFAULT NULL)
    RETURNS TABLE (partition int, name text, version int, created_at timestamptz, checksum text, error text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p int;
    found_any boolean;
BEGIN
    FOR p IN SELECT s.partition FROM animerec_router.partitions() s LOOP
        partition := p;
        found_any := false;
        error := NULL;
        BEGIN
            FOR name, version, created_at, checksum IN
                SELECT a.name, a.version, a.created_at, a.checksum
                  FROM animerec_router._active_versions_on(p, versions.model) a
            LOOP
                found_any := true;
                RETURN NEXT;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            error := SQLERRM;
        END;
        IF NOT found_any THEN
            name := versions.model;
            version := NULL;
            created_at := NULL;
            checksum := NULL;
            error := coalesce(error, 'no active version');
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION versions(text) IS
    'per partition, the active version of model MODEL (NULL: every model) that its shard serves, when it was trained and the checksum of its weights, or why it cannot say (shard unreachable, no active version)';
