-- animerec 0.2.0 -> 0.3.0 (ALTER EXTENSION animerec UPDATE).  Mirrors the
-- changes to sql/install/*.sql since 0.2.0; scripts/test compares an updated
-- installation with a fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.3.0'" to load this file. \quit

-- ---- issue 16: build_info() reports the CPU level and the OpenBLAS kernel in use ----
COMMENT ON FUNCTION build_info() IS
    'extension version, PostgreSQL version, the CPU''s x86-64 level (cpu), the BLAS library, its kernel in use (blas_core) and who chose it (blas_core_source), BLAS thread count, and whether animerec is in shared_preload_libraries';
