-- pgTAP: the extension installs, links OpenBLAS and is preloaded in the test cluster
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SELECT plan(4);
SELECT has_schema('animerec');
SELECT is(animerec.build_info()->>'version', (SELECT extversion FROM pg_extension WHERE extname = 'animerec'),
          'the library reports the installed extension version');
SELECT is(animerec.build_info()->>'blas', 'OpenBLAS', 'linked against OpenBLAS');
SELECT ok((animerec.build_info()->>'preloaded')::boolean, 'loaded through shared_preload_libraries');
SELECT * FROM finish();
ROLLBACK;
