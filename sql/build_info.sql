-- build_info() proves the C + OpenBLAS linkage from SQL
SELECT animerec.build_info()->>'version' = (SELECT extversion FROM pg_extension WHERE extname = 'animerec') AS version_matches,
       animerec.build_info()->>'blas' AS blas,
       (animerec.build_info()->>'blas_threads')::int >= 1 AS has_threads,
       animerec.build_info()->>'postgres' LIKE 'PostgreSQL 15%' AS pg15,
       (animerec.build_info()->>'preloaded')::boolean AS preloaded;
SET animerec.threads = 2;
SELECT (animerec.build_info()->>'blas_threads')::int AS threads_after_set;
SET animerec.threads = 0;
SET animerec.no_such_setting = 1;
