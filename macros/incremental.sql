{#- Incremental models: adding a dataset to a built warehouse rebuilds only what it touches.

    Two patterns, each an `incremental` model (strategy `append`) whose rows are pruned by a pre-hook and whose
    input state is recorded by a post-hook in `main.editlens_incremental_state` (model, part, fingerprint):

    1. Partitioned by dataset (rows of an edit depend only on edits of its own dataset):
           {{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
                     meta={'partition': {'input': 'stg_editlens__edits', 'by': 'dataset', 'key': 'edit_id'}},
                     pre_hook="{{ incremental_prune() }}", post_hook="{{ incremental_save() }}") }}
       and in the SQL, on the input: `where {{ partition_filter() }}`.
       `input` is a model name, or `source:<table>` for a warehouse table; `by` an expression on the input;
       `key` a column of both input and output (the pre-hook keeps only rows whose key lies in an unchanged
       partition of the current input), or `column`: the output column holding the partition value.
       A partition's fingerprint is its row count and the sum of hash(edit_id, ingest_run_id, source_file,
       source_record) over the input (`fingerprint` in meta overrides the columns): a new, re-ingested or
       removed file changes it, an untouched dataset keeps it. `also` (a list of {input, by, fingerprint}) adds
       other inputs' per-partition fingerprints, e.g. embed's image facts per dataset: a partition whose images
       were embedded again is recomputed too.
    2. Keyed by content (rows of a key depend only on the key, e.g. an instruction's text):
           meta={'keyed': {'input': 'int_instructions', 'key': 'instruction_key'}}, same hooks,
       and in the SQL: `where {{ new_keys_filter('instruction_key') }}` (keys not yet in the table). The pre-hook
       drops keys no longer in the input.

    Either way the model's own fingerprint (checksums of the model and every model and seed upstream of it,
    the vars, $EDITLENS_MACROS_CHECKSUM which `editlens build` sets from macros/) is part of the state: when it
    changes (a seed or SQL edit) the model recomputes every row, as `--full-refresh` does. -#}

{% macro incremental_state_table() -%}
    {{- return('main.editlens_incremental_state') -}}
{%- endmacro %}


{% macro _collect_checksums(uid, out, seen) -%}
    {%- if uid not in seen -%}
        {%- do seen.append(uid) -%}
        {%- set node = graph.nodes.get(uid) -%}
        {%- if node is not none -%}
            {%- do out.append(uid ~ '=' ~ node.checksum.checksum) -%}
            {%- for dep in node.depends_on.nodes -%}{{ _collect_checksums(dep, out, seen) }}{%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- What the model's rows depend on besides its input rows: code, seeds, vars. -#}
{% macro model_fingerprint() -%}
    {%- set parts = [] -%}
    {%- do _collect_checksums(model.unique_id, parts, []) -%}
    {%- do parts.append('vars=' ~ var('lexicon_sense_guard', true) ~ ',' ~ var('score_model_key', none)) -%}
    {%- do parts.append('macros=' ~ env_var('EDITLENS_MACROS_CHECKSUM', '')) -%}
    {{- return(local_md5(parts | sort | join('|'))) -}}
{%- endmacro %}


{% macro _input_relation(name) -%}
    {%- if name.startswith('source:') -%}
        {{- return(warehouse_table(name[7:])) -}}
    {%- else -%}
        {{- return(ref(name)) -}}
    {%- endif -%}
{%- endmacro %}


{#- Stored fingerprints of this model: {part: fingerprint}. -#}
{% macro _stored_state() -%}
    {%- do run_query("create table if not exists " ~ incremental_state_table()
        ~ " (model varchar, part varchar, fingerprint varchar)") -%}
    {%- set rows = run_query("select part, fingerprint from " ~ incremental_state_table()
        ~ " where model = '" ~ model.name ~ "'") -%}
    {%- set state = {} -%}
    {%- for row in rows.rows -%}{%- do state.update({row[0]: row[1]}) -%}{%- endfor -%}
    {{- return(state) -}}
{%- endmacro %}


{#- Current fingerprints: {part: fingerprint}; '*' holds the model fingerprint. -#}
{% macro _current_state() -%}
    {%- set meta = model.config.get('meta', {}) -%}
    {%- set state = {'*': model_fingerprint()} -%}
    {%- if 'partition' in meta -%}
        {%- set spec = meta['partition'] -%}
        {%- set cols = spec.get('fingerprint', ['edit_id', 'ingest_run_id', 'source_file', 'source_record']) -%}
        {%- set rows = run_query("select cast(" ~ spec['by'] ~ " as varchar) as part, count(*) || ':' || "
            ~ "coalesce(sum(hash(" ~ cols | join(', ') ~ ")::hugeint), 0) as fp from "
            ~ _input_relation(spec['input']) ~ " group by all") -%}
        {%- for row in rows.rows -%}{%- do state.update({row[0]: row[1]}) -%}{%- endfor -%}
        {%- for extra in spec.get('also', []) -%}
            {%- set rows = run_query("select cast(" ~ extra['by'] ~ " as varchar) as part, count(*) || ':' || "
                ~ "coalesce(sum(hash(" ~ extra['fingerprint'] | join(', ') ~ ")::hugeint), 0) as fp from "
                ~ _input_relation(extra['input']) ~ " group by all") -%}
            {%- for row in rows.rows -%}
                {%- do state.update({row[0]: state.get(row[0], '') ~ '+' ~ row[1]}) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(state) -}}
{%- endmacro %}


{#- True when this run may keep rows already in the table: the table exists, no --full-refresh, and the model's
    code, seeds and vars are those it was built with. -#}
{% macro incremental_reusable() -%}
    {%- if not execute or this is none or model is not defined or model.resource_type != 'model' -%}{{- return(false) -}}{%- endif -%}
    {%- if not is_incremental() -%}{{- return(false) -}}{%- endif -%}
    {%- set stored = _stored_state() -%}
    {{- return(stored.get('*') == model_fingerprint()) -}}
{%- endmacro %}


{#- Partitions whose rows this run recomputes (every current one when the table cannot be reused). -#}
{% macro changed_partitions() -%}
    {%- set current = _current_state() -%}
    {%- set parts = [] -%}
    {%- if incremental_reusable() -%}
        {%- set stored = _stored_state() -%}
        {%- for part, fp in current.items() if part != '*' and stored.get(part) != fp -%}{%- do parts.append(part) -%}{%- endfor -%}
    {%- else -%}
        {%- for part in current.keys() if part != '*' -%}{%- do parts.append(part) -%}{%- endfor -%}
    {%- endif -%}
    {{- return(parts | sort) -}}
{%- endmacro %}


{% macro _sql_list(values) -%}
    {%- if values -%}
        ({%- for v in values -%}'{{ v | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%})
    {%- else -%}
        (select null where false)
    {%- endif -%}
{%- endmacro %}


{#- SQL filter on the input: its rows in a partition this run recomputes. -#}
{% macro partition_filter() -%}
    {%- if not incremental_reusable() -%}true{%- else -%}
        {%- set spec = model.config.get('meta', {})['partition'] -%}
        cast({{ spec['by'] }} as varchar) in {{ _sql_list(changed_partitions()) }}
    {%- endif -%}
{%- endmacro %}


{#- SQL filter: keys not already in the table (every key when the table cannot be reused). -#}
{% macro new_keys_filter(key) -%}
    {%- if incremental_reusable() -%}
        {{ key }} not in (select {{ key }} from {{ this }} where {{ key }} is not null)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- pre-hook: drop the rows this run recomputes, or whose input is gone. -#}
{% macro incremental_prune() -%}
    {%- if execute and this is not none and model is defined and model.resource_type == 'model' and is_incremental() -%}
        {%- set meta = model.config.get('meta', {}) -%}
        {%- if not incremental_reusable() -%}
            delete from {{ this }}
        {%- elif 'partition' in meta -%}
            {%- set spec = meta['partition'] -%}
            {%- set keep = _sql_list(changed_partitions()) -%}
            {%- if 'column' in spec -%}
                delete from {{ this }} where cast({{ spec['column'] }} as varchar) in {{ keep }}
                    or cast({{ spec['column'] }} as varchar) not in (
                        select cast({{ spec['by'] }} as varchar) from {{ _input_relation(spec['input']) }})
            {%- else -%}
                delete from {{ this }} where {{ spec['key'] }} not in (
                    select {{ spec['key'] }} from {{ _input_relation(spec['input']) }}
                    where cast({{ spec['by'] }} as varchar) not in {{ keep }} and {{ spec['key'] }} is not null)
            {%- endif -%}
        {%- elif 'keyed' in meta -%}
            {%- set spec = meta['keyed'] -%}
            delete from {{ this }} where {{ spec['key'] }} not in (
                select {{ spec['key'] }} from {{ _input_relation(spec['input']) }} where {{ spec['key'] }} is not null)
        {%- else -%}
            select 1
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{#- post-hook: record the input state this table now reflects. -#}
{% macro incremental_save() -%}
    {%- if execute -%}
        {%- set current = _current_state() -%}
        {%- do run_query("create table if not exists " ~ incremental_state_table()
            ~ " (model varchar, part varchar, fingerprint varchar)") -%}
        delete from {{ incremental_state_table() }} where model = '{{ model.name }}';
        insert into {{ incremental_state_table() }} values
        {%- for part, fp in current.items() %}
            ('{{ model.name }}', '{{ part | replace("'", "''") }}', '{{ fp }}'){{ "," if not loop.last }}
        {%- endfor %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
