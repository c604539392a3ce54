{#- on-run-end: export every mart that this run built to DIR/marts/<mart>.parquet.
    DuckDB writes `tmp_<mart>.parquet` first and renames it into place (USE_TMP_FILE), so a reader of
    `<mart>.parquet` sees the old file or the whole new one, never a half-written one. -#}
{% macro export_marts(results) %}
    {%- if execute and var('export_marts', true) -%}
        {%- set marts_dir = warehouse_dir() ~ '/marts' -%}
        {%- set exported = [] -%}
        {%- for res in results -%}
            {%- if res.node.resource_type == 'model' and 'mart' in res.node.tags and res.status == 'success' -%}
                {%- do exported.append(res.node) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if exported -%}
            {#- creates DIR/marts when absent (one level; DIR exists since the database lives there) -#}
            {%- do run_query("copy (select 1 as k, 1 as v where false) to '" ~ marts_dir ~ "' (format parquet, partition_by (k), overwrite_or_ignore true)") -%}
            {%- for node in exported -%}
                {%- set rel = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
                {%- if rel is not none -%}
                    {%- do run_query("copy (select * from " ~ rel ~ ") to '" ~ marts_dir ~ "/" ~ node.alias ~ ".parquet' (format parquet, compression zstd, use_tmp_file true)") -%}
                {%- endif -%}
            {%- endfor -%}
            {{ log("exported " ~ exported | length ~ " marts to " ~ marts_dir, info=true) }}
        {%- endif -%}
    {%- endif -%}
    select 1
{% endmacro %}
