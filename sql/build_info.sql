-- build_info() proves the C + OpenBLAS linkage from SQL: the CPU's x86-64
-- level, and an AVX2 kernel of OpenBLAS on a CPU that has AVX2 (x86-64-v3 and
-- up), whatever the CPU (test/pgtap/00_build_info.sql names the exact kernel)
SELECT animerec.build_info()->>'version' = (SELECT extversion FROM pg_extension WHERE extname = 'animerec') AS version_matches,
       animerec.build_info()->>'cpu' IN ('x86-64', 'x86-64-v2', 'x86-64-v3', 'x86-64-v4') AS cpu_level,
       animerec.build_info()->>'cpu' NOT IN ('x86-64-v3', 'x86-64-v4')
         OR lower(animerec.build_info()->>'blas_core') IN ('haswell', 'zen', 'skylakex', 'cooperlake', 'sapphirerapids')
         AS avx2_kernel_if_avx2,
       animerec.build_info()->>'blas_config' LIKE 'OpenBLAS %' || (animerec.build_info()->>'blas_core') || '%' AS core_in_config,
       (animerec.build_info()->>'blas_threads')::int >= 1 AS has_threads,
       animerec.build_info()->>'postgres' LIKE 'PostgreSQL 15%' AS pg15,
       (animerec.build_info()->>'preloaded')::boolean AS preloaded;
SET animerec.threads = 2;
SELECT (animerec.build_info()->>'blas_threads')::int AS threads_after_set;
SET animerec.threads = 0;
SET animerec.no_such_setting = 1;
