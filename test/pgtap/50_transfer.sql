-- pgTAP: export_model() and import_model() (sql/install/50_transfer.sql).  A
-- version exported and imported under another name serves exactly the same
-- rows, keeps its number, creation time, weights checksum and training log;
-- importing again only activates; damaged, foreign or newer exports, missing
-- tables and columns, a taken version and another role's name are refused
-- with their SQLSTATEs; activate => false leaves the serving version alone.
-- Across servers: test/shards.sh.  Runs outside a transaction block (train
-- commits per epoch) and cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(27);

DROP SCHEMA IF EXISTS tap_tr CASCADE;
DROP ROLE IF EXISTS tap_tr_bob;
SELECT animerec.drop_model(name) FROM animerec.model_owners WHERE name IN ('tap_tr', 'tap_tr_copy', 'tap_tr_bob');
CREATE ROLE tap_tr_bob;
CREATE SCHEMA tap_tr;
SELECT count(*) FROM animerec.generate_demo_data(users => 60, items => 100, seed => 5, schema => 'tap_tr');
CALL animerec.train('tap_tr', 'tap_tr.demo_ratings', dim => 8, hidden => 8, layers => 1, maxlen => 10,
                    epochs => 2, patience => 0, seed => 1);
CALL animerec.train('tap_tr', 'tap_tr.demo_ratings', dim => 8, hidden => 8, layers => 1, maxlen => 10,
                    epochs => 2, patience => 0, seed => 2);
CREATE TABLE tap_tr.blobs AS
SELECT animerec.export_model('tap_tr') AS v2, animerec.export_model('tap_tr', 1) AS v1;

-- err(query): 'SQLSTATE: message' of query's error, or 'no error'
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- recs(model): the top 10 of users 1..20 with full scores, as text
CREATE FUNCTION pg_temp.recs(model text) RETURNS text LANGUAGE sql AS $$
SELECT string_agg(concat_ws(':', u, rank, item_id, score::float8), ' ' ORDER BY u, rank)
  FROM generate_series(1, 20) u, animerec.recommend(u, 10, model)
$$;

SELECT is(substring((SELECT v2 FROM tap_tr.blobs) FROM 1 FOR 8), '\x414e524543455831'::bytea,
          'export_model returns the envelope (magic ANRECEX1)');
SELECT is(animerec.import_model('tap_tr_copy', (SELECT v2 FROM tap_tr.blobs)), 2,
          'import_model installs it under another name, keeping version number 2');
SELECT is(pg_temp.recs('tap_tr_copy'), pg_temp.recs('tap_tr'),
          'the imported version serves exactly the exported one''s rows');
SELECT is((SELECT string_agg(concat_ws(' ', version, created_at, checksum), ',') FROM animerec.active_versions('tap_tr_copy')),
          (SELECT string_agg(concat_ws(' ', version, created_at, checksum), ',') FROM animerec.active_versions('tap_tr')),
          'active_versions: same version, creation time and weights checksum on both');
SELECT matches((SELECT checksum FROM animerec.active_versions('tap_tr_copy')), '^[0-9A-F]{8}$',
               'the checksum is 8 hexadecimal digits');
SELECT is((SELECT imported_from->>'model' || ' v' || (imported_from->>'version') FROM animerec.active_versions('tap_tr_copy')),
          'tap_tr v2', 'and says where the imported version came from');
SELECT is((SELECT array_agg(concat_ws(' ', epoch, loss, val_ndcg) ORDER BY epoch) FROM animerec.training_log WHERE name = 'tap_tr_copy'),
          (SELECT array_agg(concat_ws(' ', epoch, loss, val_ndcg) ORDER BY epoch) FROM animerec.training_log WHERE name = 'tap_tr' AND version = 2),
          'its training_log rows come along');
SELECT is((SELECT status || ' ' || active || ' ' || owner || ' ' || hyperparams::text FROM animerec.models WHERE name = 'tap_tr_copy'),
          (SELECT 'ready true ' || current_user || ' ' || hyperparams::text FROM animerec.models WHERE name = 'tap_tr' AND version = 2),
          'the row is ready, active, owned by the importer, with the same hyperparameters');
SELECT is(animerec.import_model('tap_tr_copy', (SELECT v2 FROM tap_tr.blobs)), 2,
          'importing the same export again is accepted');
SELECT is((SELECT count(*) FROM animerec.models WHERE name = 'tap_tr_copy'), 1::bigint, 'and adds no row');

-- activate => false: the new version is stored, the serving one stays
SELECT is(animerec.import_model('tap_tr_copy', (SELECT v1 FROM tap_tr.blobs), activate => false), 1,
          'activate => false imports version 1');
SELECT is((SELECT version FROM animerec.active_versions('tap_tr_copy')), 2,
          'version 2 stays the active one (a server that missed an activation keeps serving its version)');
SELECT is(animerec.import_model('tap_tr_copy', (SELECT v1 FROM tap_tr.blobs)), 1,
          'importing it again with activation switches to it');
SELECT is(pg_temp.recs('tap_tr_copy'), (SELECT pg_temp.recs('tap_tr') FROM animerec.activate('tap_tr', 1)),
          'and serves version 1''s rows');

-- refused imports
SELECT matches(pg_temp.err($$SELECT animerec.import_model('tap_tr_copy', (SELECT v2 FROM tap_tr.blobs), version => 1)$$),
               '^42710: model "tap_tr_copy" already has a version 1 with other weights',
               'a taken version number with other weights: 42710');
SELECT matches(pg_temp.err($$SELECT animerec.import_model('tap_tr_x', '\x0102'::bytea)$$),
               '^22P03: cannot import the model: not an animerec model export', 'not an export: 22P03');
SELECT matches(pg_temp.err($$SELECT animerec.import_model('tap_tr_x',
                   (SELECT set_byte(v2, 8, 2) FROM tap_tr.blobs))$$),
               '^0A000: cannot import the model: unknown export format version 2', 'a newer format version: 0A000');
SELECT matches(pg_temp.err($$SELECT animerec.import_model('tap_tr_x',
                   (SELECT set_byte(v2, octet_length(v2) / 2, get_byte(v2, octet_length(v2) / 2) # 16) FROM tap_tr.blobs))$$),
               '^XX001: cannot import the model: the export is damaged: checksum mismatch', 'one flipped bit: XX001');
SELECT matches(pg_temp.err($$SELECT animerec.import_model('tap_tr_x',
                   (SELECT substring(v2 FROM 1 FOR octet_length(v2) - 1) FROM tap_tr.blobs))$$),
               '^XX001: cannot import the model: the export is damaged', 'one byte short: XX001');
SELECT matches(pg_temp.err($$SELECT animerec.export_model('tap_tr', 7)$$),
               '^42704: model "tap_tr" has no ready version 7', 'export of a missing version: 42704');
ALTER TABLE tap_tr.demo_ratings RENAME TO moved;
SELECT matches(pg_temp.err($$SELECT animerec.import_model('tap_tr_x', (SELECT v2 FROM tap_tr.blobs))$$),
               '^42P01: ratings table tap_tr.demo_ratings of the imported model does not exist',
               'the ratings table missing on this server: 42P01');
SELECT matches(pg_temp.err($$SELECT animerec.import_model('tap_tr_x', (SELECT v2 FROM tap_tr.blobs), ratings => 'tap_tr.demo_items')$$),
               '^42703: ratings table tap_tr.demo_items has no column "user_id"', 'ratings => a table without the columns: 42703');
ALTER TABLE tap_tr.moved RENAME TO demo_ratings;
SELECT is((SELECT count(*) FROM animerec.model_owners WHERE name = 'tap_tr_x'), 0::bigint,
          'a refused import leaves no name behind');

-- ownership as for train
GRANT USAGE ON SCHEMA tap_tr TO tap_tr_bob;
GRANT SELECT ON tap_tr.blobs, tap_tr.demo_ratings TO tap_tr_bob;
SET ROLE tap_tr_bob;
SELECT matches(pg_temp.err($$SELECT animerec.import_model('tap_tr', (SELECT v2 FROM tap_tr.blobs))$$),
               '^42704: model "tap_tr" does not exist or you have no serving privilege on it$',
               'importing into another role''s name: 42704, as for a hidden name (docs/bi.md)');
SELECT matches(pg_temp.err($$SELECT animerec.export_model('tap_tr')$$),
               '^42704: model "tap_tr" does not exist or you have no serving privilege on it$',
               'exporting another role''s model: 42704, as for a hidden name');
SELECT is(animerec.import_model('tap_tr_bob', (SELECT v2 FROM tap_tr.blobs)), 2, 'a role imports into a new name');
SELECT is((SELECT owner::text FROM animerec.model_owners WHERE name = 'tap_tr_bob'), 'tap_tr_bob',
          'which becomes the importer''s');
RESET ROLE;

SELECT * FROM finish();
SELECT animerec.drop_model(name) FROM animerec.model_owners WHERE name IN ('tap_tr', 'tap_tr_copy', 'tap_tr_bob');
DROP SCHEMA tap_tr CASCADE;
DROP ROLE tap_tr_bob;
