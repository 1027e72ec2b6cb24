-- animerec 0.2.0 install script, assembled by the Makefile from sql/install/*.sql
\echo Use "CREATE EXTENSION animerec" to load this file. \quit

-- build_info(): what this build is made of, as jsonb (src/animerec.c)
CREATE FUNCTION build_info() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'animerec_build_info'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION build_info() IS
    'extension version, PostgreSQL version, the CPU''s x86-64 level (cpu), the BLAS library, its kernel in use (blas_core) and who chose it (blas_core_source), BLAS thread count, and whether animerec is in shared_preload_libraries';
