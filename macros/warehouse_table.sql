{#- The warehouse folder: $EDITLENS_WAREHOUSE (absolute when set by `editlens build`), else ./warehouse. -#}
{% macro warehouse_dir() -%}
    {{- return(env_var('EDITLENS_WAREHOUSE', 'warehouse').rstrip('/')) -}}
{%- endmacro %}


{#- A source table, or an empty relation typed by the source's YAML columns when no Parquet file exists yet
    (e.g. `dbt build` before `editlens embed`). Columns the YAML declares that the files lack (a warehouse
    written before the column was added to the contract) read as typed nulls. Lineage still points at the
    source. -#}
{% macro warehouse_table(table) -%}
    {%- set rel = source('editlens', table) -%}
    {%- set n_files = 1 -%}
    {%- set missing = [] -%}
    {%- if execute -%}
        {%- set pattern = warehouse_dir() ~ '/parquet/' ~ table ~ '/*.parquet' -%}
        {%- set n_files = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] -%}
        {%- if n_files > 0 -%}
            {%- set present = run_query("select column_name from (describe select * from " ~ rel ~ ")").columns[0].values() | map('lower') | list -%}
            {%- set node = graph.sources['source.editlens.editlens.' ~ table] -%}
            {%- for name, col in node.columns.items() -%}
                {%- if name | lower not in present -%}{%- do missing.append((name, col.data_type)) -%}{%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- if n_files > 0 and missing -%}
        (select *
        {%- for name, data_type in missing %},
            cast(null as {{ data_type }}) as "{{ name }}"
        {%- endfor %}
        from {{ rel }})
    {%- elif n_files > 0 -%}
        {{ rel }}
    {%- else -%}
        {%- set node = graph.sources['source.editlens.editlens.' ~ table] -%}
        (select
        {%- for name, col in node.columns.items() %}
            cast(null as {{ col.data_type }}) as "{{ name }}"{{ "," if not loop.last }}
        {%- endfor %}
        where false)
    {%- endif -%}
{%- endmacro %}


{#- Value of a named threshold from the `thresholds` seed, as a scalar subquery. -#}
{% macro threshold(name) -%}
    (select value from {{ ref('thresholds') }} where name = '{{ name }}')
{%- endmacro %}
