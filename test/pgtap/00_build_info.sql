-- pgTAP: the extension installs, is preloaded in the test cluster, and runs the
-- OpenBLAS kernel the CPU's features call for: cpu and blas_core of
-- build_info() are checked against the flags the kernel shows in /proc/cpuinfo
-- (read independently of the extension's cpuid code), so a generic kernel on
-- a CPU with AVX2 fails here whatever CPU runs the test
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SELECT plan(8);

CREATE TEMP TABLE cpu ON COMMIT DROP AS
SELECT f.flags,
       f.vendor,
       f.flags @> '{avx512f,avx512bw,avx512cd,avx512dq,avx512vl}' AS avx512,
       f.flags @> '{avx2,fma}' AS avx2,
       f.flags @> '{avx}' AS avx,
       f.flags @> '{sse4_2,ssse3,popcnt,cx16}' AS v2,
       f.flags @> '{avx,avx2,fma,bmi1,bmi2,f16c,abm,movbe}' AS v3
  FROM (SELECT string_to_array(trim(substring(c from E'\nflags\\s*:([^\n]*)')), ' ') AS flags,
               trim(substring(c from E'vendor_id\\s*:([^\n]*)')) AS vendor
          FROM pg_read_file('/proc/cpuinfo') AS c) AS f;

CREATE TEMP TABLE expected ON COMMIT DROP AS
SELECT CASE WHEN v3 AND avx512 THEN 'x86-64-v4' WHEN v3 THEN 'x86-64-v3'
            WHEN v2 THEN 'x86-64-v2' ELSE 'x86-64' END AS cpu,
       CASE WHEN avx512 THEN 'skylakex'
            WHEN avx2 AND vendor IN ('AuthenticAMD', 'HygonGenuine') THEN 'zen'
            WHEN avx2 THEN 'haswell' WHEN avx THEN 'sandybridge' ELSE 'prescott' END AS core,
       avx2
  FROM cpu;

SELECT has_schema('animerec');
SELECT is(animerec.build_info()->>'version', (SELECT extversion FROM pg_extension WHERE extname = 'animerec'),
          'the library reports the installed extension version');
SELECT isnt((SELECT flags FROM cpu), NULL, '/proc/cpuinfo has a flags line');
SELECT is(animerec.build_info()->>'cpu', (SELECT cpu FROM expected),
          'build_info cpu is the x86-64 level of the /proc/cpuinfo flags');
SELECT CASE WHEN animerec.build_info()->>'blas_core_source' = 'OPENBLAS_CORETYPE'
            THEN skip('OPENBLAS_CORETYPE is set in the server''s environment', 1)
            ELSE is(lower(animerec.build_info()->>'blas_core'), (SELECT core FROM expected),
                    'OpenBLAS runs the kernel the CPU''s features call for')
       END;
SELECT ok(NOT (SELECT avx2 FROM expected)
          OR lower(animerec.build_info()->>'blas_core') IN ('haswell', 'zen', 'skylakex', 'cooperlake', 'sapphirerapids'),
          format('no generic OpenBLAS kernel on a CPU with AVX2 + FMA (kernel %s)', animerec.build_info()->>'blas_core'));
SELECT ok(animerec.build_info()->>'blas_config' LIKE 'OpenBLAS %' || (animerec.build_info()->>'blas_core') || '%',
          'openblas_get_config() names the kernel in use');
SELECT ok((animerec.build_info()->>'preloaded')::boolean, 'loaded through shared_preload_libraries');
SELECT * FROM finish();
ROLLBACK;
