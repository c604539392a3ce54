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
       were embedded again is recomputed too. An `also` entry {state: <model>} takes an upstream partitioned
       model's recorded state instead (no scan): a partition it recomputed is recomputed here too; a change of
       its code or global inputs, every one.
    2. Keyed by content (rows of a key depend only on the key, e.g. an instruction's text):
           meta={'keyed': {'input': 'int_instructions', 'key': 'instruction_key'}}, same hooks,
       and in the SQL: `where {{ new_keys_filter('instruction_key') }}` (keys not yet in the table). The pre-hook
       drops keys no longer in the input.

    3. Pairs, new against old (rows pair two keys of an input incremental by content, `'generation':
       'added_build'` in its keyed spec and `{{ next_generation() }} as added_build` in its SQL: the number of
       the build that added the row):
           meta={'pairs': {'input': ..., 'key': 'sha256', 'columns': ['sha256_a', 'sha256_b'], 'added': 'added_build'}}
       and in the SQL: `{{ new_rows_filter() }}` / `{{ old_rows_filter() }}` on the input (rows added since the
       last build / the others): pair new with new and new with old. The pre-hook keeps pairs of two old keys.
    4. Recheck (a partition spec with 'recheck': {'list': <list column of partitions>, 'keys': <model of (by,
       key)>}): the pre-hook fills `recheck_relation()` with the keys of rows listing a changed or removed
       partition and the keys the changed partitions use now, and deletes those rows; the SQL recomputes them.
    5. Cross (a partition spec with 'cross': {'stored': <predicate on the table's rows>, 'keys': <model of
       keys>}): a partition's rows that also depend on other partitions' rows (an edit's near-duplicates in
       another dataset). Besides the changed partitions' rows, the pre-hook deletes those whose keys the stored
       rows matching `stored` hold (what depended on other partitions before) or `keys` lists (what does now),
       and `{{ cross_filter() }}` on the input selects both for recomputing.

    6. Whole (a table computed from inputs that adding a dataset's edits leaves as they are, e.g. the image
       concepts' calibration): meta={'whole': {'global': [{'input': ...}, ...]}}, same hooks, and in the SQL:
       `where {{ whole_filter() }}` on the final select. Unchanged inputs (and code): the rows are kept and the
       SQL adds none; otherwise every row is recomputed.

    `global` in a spec (a list of {input, fingerprint}) joins inputs whose change recomputes every row to the
    model fingerprint; an input `files:<table>` is fingerprinted from its Parquet footers, not its rows.
    Fingerprints are computed once per run and model (cached in the state table as `<model>@<invocation_id>`),
    and a node reads the state table once per compile and once per run (cached in its `model` dict).

    Tests of what a run rebuilt: the post-hook records which rows this run wrote (a predicate on the table, kept
    for this run only); the project's `get_where_subquery` runs the generic tests of the model on those rows,
    so an incremental build tests the partitions it recomputed, a full build (or a model that recomputed every
    row, or one whose new rows cannot be told apart: keyed without generation, recheck, pairs) tests every row.
    Uniqueness across partitions is checked by a full build (`editlens build -- --full-refresh`, or `dbt test`).

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


{#- This node's cache, for the rest of its compile or its run: `model` is one dict per node context, so the
    state the SQL, the pre-hook and the post-hook ask for many times is queried once (a model asks ~25 times;
    each query costs dbt ~6 ms). The stored state changes only when the post-hook's SQL runs, after every
    question was asked. -#}
{% macro _node_cache() -%}
    {%- if '_editlens_incremental' not in model -%}{%- do model.update({'_editlens_incremental': {}}) -%}{%- endif -%}
    {{- return(model['_editlens_incremental']) -}}
{%- endmacro %}


{#- Stored fingerprints of this model: {part: fingerprint}. (The state table exists: on-run-start creates it.) -#}
{% macro _stored_state() -%}
    {%- set cache = _node_cache() -%}
    {%- if 'stored' not in cache -%}
        {%- set rows = run_query("select part, fingerprint from " ~ incremental_state_table()
            ~ " where model = '" ~ model.name ~ "'") -%}
        {%- set state = {} -%}
        {%- for row in rows.rows -%}{%- do state.update({row[0]: row[1]}) -%}{%- endfor -%}
        {%- do cache.update({'stored': state}) -%}
    {%- endif -%}
    {{- return(cache['stored']) -}}
{%- endmacro %}


{#- One input's fingerprint per part: [(part, fingerprint)]. `by` none: one part '*'. An input `files:<table>`
    is fingerprinted from its Parquet footers (file names without their folder, so that a moved or copied
    warehouse keeps them; row groups, column chunk sizes and statistics), which costs nothing per row; any
    other input from its rows (`fingerprint` columns; `_in` is the whole row). -#}
{% macro _input_fingerprints(input, by, cols) -%}
    {%- set part = "cast(" ~ by ~ " as varchar)" if by else "'*'" -%}
    {%- if input.startswith('files:') -%}
        {%- set pattern = warehouse_dir() ~ '/parquet/' ~ input[6:] ~ '/*.parquet' -%}
        {%- set n_files = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] -%}
        {%- if n_files == 0 -%}{{- return([('*', '0:0')]) -}}{%- endif -%}
        {%- set sql = "select '*' as part, count(*) || ':' || coalesce(sum(hash(parse_filename(file_name), row_group_id, column_id, "
            ~ "row_group_num_rows, total_compressed_size, total_uncompressed_size, stats_min_value, stats_max_value, "
            ~ "stats_null_count)::hugeint), 0) as fp from parquet_metadata('" ~ pattern ~ "') group by all" -%}
    {%- else -%}
        {%- set sql = "select " ~ part ~ " as part, count(*) || ':' || coalesce(sum(hash(" ~ cols | join(', ')
            ~ ")::hugeint), 0) as fp from " ~ _input_relation(input) ~ " as _in group by all" -%}
    {%- endif -%}
    {#- several models fingerprint the same input: computed once per run (an input is built before the models
        reading it, and stays as it is for the rest of the run) -#}
    {%- set cache_key = '#' ~ local_md5(sql) ~ '@' ~ invocation_id -%}
    {%- set cached = run_query("select part, fingerprint from " ~ incremental_state_table()
        ~ " where model = '" ~ cache_key ~ "'") -%}
    {%- set out = [] -%}
    {%- for row in cached.rows -%}{%- do out.append((row[0], row[1])) -%}{%- endfor -%}
    {%- if not out -%}
        {%- for row in run_query(sql).rows -%}{%- do out.append((row[0], row[1])) -%}{%- endfor -%}
        {%- set state = {} -%}
        {%- for part, fp in out -%}{%- do state.update({part: fp}) -%}{%- endfor -%}
        {%- do run_query("insert into " ~ incremental_state_table() ~ " values "
            ~ _state_values(cache_key, state if state else {'#none': ''})) -%}
    {%- endif -%}
    {#- (two models may have computed it at once: each part once) -#}
    {%- set found = {} -%}
    {%- for part, fp in out if part != '#none' -%}{%- do found.update({part: fp}) -%}{%- endfor -%}
    {{- return(found.items() | list) -}}
{%- endmacro %}


{#- on-run-start: create the state table once, before models running in parallel threads would each try to
    (two `create table if not exists` in concurrent transactions conflict on a fresh database). -#}
{% macro incremental_setup() -%}
    create table if not exists {{ incremental_state_table() }} (model varchar, part varchar, fingerprint varchar)
{%- endmacro %}


{#- on-run-end: drop the fingerprints cached by runs (this one's and those of runs that were cut short). -#}
{% macro incremental_cleanup() -%}
    {%- if execute -%}
        {%- do run_query("create table if not exists " ~ incremental_state_table()
            ~ " (model varchar, part varchar, fingerprint varchar)") -%}
        {#- the cross pattern's recheck tables, kept for the run's tests -#}
        {%- for row in run_query("select schema_name, table_name from duckdb_tables() where ends_with(table_name, '__recheck')").rows -%}
            {%- do run_query('drop table if exists "' ~ row[0] ~ '"."' ~ row[1] ~ '"') -%}
        {%- endfor -%}
        delete from {{ incremental_state_table() }} where contains(model, '@')
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{% macro _spec() -%}
    {%- set meta = model.config.get('meta', {}) -%}
    {%- for kind in ['partition', 'keyed', 'pairs', 'whole'] if kind in meta -%}{{- return(meta[kind]) -}}{%- endfor -%}
    {{- return({}) -}}
{%- endmacro %}


{#- Current fingerprints: {part: fingerprint}; '*' holds the model fingerprint and those of the `global` inputs
    (a change there recomputes every row). Computed once per run and model (the SQL, the pre-hook and the
    post-hook all ask): cached in the state table under the run's invocation id. -#}
{% macro _current_state() -%}
    {%- set node_cache = _node_cache() -%}
    {%- if 'current' in node_cache -%}{{- return(node_cache['current']) -}}{%- endif -%}
    {%- set cache_key = model.name ~ '@' ~ invocation_id -%}
    {%- set cached = run_query("select part, fingerprint from " ~ incremental_state_table()
        ~ " where model = '" ~ cache_key ~ "'") -%}
    {%- set state = {} -%}
    {%- for row in cached.rows -%}{%- do state.update({row[0]: row[1]}) -%}{%- endfor -%}
    {%- if state -%}
        {%- do node_cache.update({'current': state}) -%}
        {{- return(state) -}}
    {%- endif -%}
    {%- set meta = model.config.get('meta', {}) -%}
    {%- set spec = _spec() -%}
    {%- set star = [model_fingerprint()] -%}
    {%- for extra in spec.get('global', []) -%}
        {%- for part, fp in _input_fingerprints(extra['input'], none, extra.get('fingerprint', ['_in'])) -%}
            {%- do star.append(extra['input'] ~ '=' ~ fp) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do state.update({'*': star | join('+')}) -%}
    {%- if 'partition' in meta -%}
        {%- set cols = spec.get('fingerprint', ['edit_id', 'ingest_run_id', 'source_file', 'source_record']) -%}
        {%- for part, fp in _input_fingerprints(spec['input'], spec['by'], cols) -%}
            {%- do state.update({part: fp}) -%}
        {%- endfor -%}
        {%- for extra in spec.get('also', []) if 'state' not in extra -%}
            {%- for part, fp in _input_fingerprints(extra['input'], extra['by'], extra.get('fingerprint', ['_in'])) -%}
                {%- do state.update({part: state.get(part, '') ~ '+' ~ fp}) -%}
            {%- endfor -%}
        {%- endfor -%}
        {#- an upstream partitioned model's recorded state: a partition it recomputed is recomputed here too, and
            a change of its code or global inputs recomputes every partition (costs no scan) -#}
        {%- for extra in spec.get('also', []) if 'state' in extra -%}
            {%- set upstream = run_query("select part, fingerprint from " ~ incremental_state_table()
                ~ " where model = '" ~ extra['state'] ~ "'") -%}
            {%- for row in upstream.rows -%}
                {%- if row[0] == '*' -%}
                    {%- do state.update({'*': state['*'] ~ '+' ~ extra['state'] ~ '=' ~ row[1]}) -%}
                {%- elif row[0][:1] != '@' -%}
                    {%- do state.update({row[0]: state.get(row[0], '') ~ '+' ~ row[1]}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- elif 'pairs' in meta -%}
        {%- set rows = run_query("select coalesce(max(" ~ spec['added'] ~ "), 0) from "
            ~ _input_relation(spec['input'])) -%}
        {%- do state.update({'@added': rows.rows[0][0] | string}) -%}
    {%- endif -%}
    {%- do run_query("insert into " ~ incremental_state_table() ~ " values "
        ~ _state_values(cache_key, state)) -%}
    {%- do node_cache.update({'current': state}) -%}
    {{- return(state) -}}
{%- endmacro %}


{% macro _state_values(name, state) -%}
    {%- set rows = [] -%}
    {%- for part, fp in state.items() -%}
        {%- do rows.append("('" ~ name ~ "', '" ~ part | replace("'", "''") ~ "', '" ~ fp ~ "')") -%}
    {%- endfor -%}
    {{- return(rows | join(', ')) -}}
{%- endmacro %}


{#- True when this run may keep rows already in the table: the table exists, no --full-refresh, and the model's
    code, seeds and vars are those it was built with. -#}
{% macro incremental_reusable() -%}
    {%- if not execute or this is none or model is not defined or model.resource_type != 'model' -%}{{- return(false) -}}{%- endif -%}
    {%- if not is_incremental() -%}{{- return(false) -}}{%- endif -%}
    {%- set stored = _stored_state() -%}
    {%- if 'pairs' in model.config.get('meta', {}) and not stored.get('@added') -%}{{- return(false) -}}{%- endif -%}
    {{- return(stored.get('*') == _current_state()['*']) -}}
{%- endmacro %}


{#- Partitions whose rows this run recomputes (every current one when the table cannot be reused). -#}
{% macro changed_partitions() -%}
    {%- set current = _current_state() -%}
    {%- set parts = [] -%}
    {%- if incremental_reusable() -%}
        {%- set stored = _stored_state() -%}
        {%- for part, fp in current.items() if part[:1] not in ['*', '@'] and stored.get(part) != fp -%}
            {%- do parts.append(part) -%}
        {%- endfor -%}
    {%- else -%}
        {%- for part in current.keys() if part[:1] not in ['*', '@'] -%}{%- do parts.append(part) -%}{%- endfor -%}
    {%- endif -%}
    {{- return(parts | sort) -}}
{%- endmacro %}


{#- Partitions the table was built from that the input no longer has (a removed dataset). -#}
{% macro gone_partitions() -%}
    {%- set parts = [] -%}
    {%- if incremental_reusable() -%}
        {%- set current = _current_state() -%}
        {%- for part in _stored_state().keys() if part[:1] not in ['*', '@'] and part not in current -%}
            {%- do parts.append(part) -%}
        {%- endfor -%}
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


{% macro _sql_array(values) -%}
    [{%- for v in values -%}'{{ v | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}]::varchar[]
{%- endmacro %}


{#- SQL filter on the input: its rows in a partition this run recomputes. -#}
{% macro partition_filter() -%}
    {%- if not incremental_reusable() -%}true{%- else -%}
        {%- set spec = model.config.get('meta', {})['partition'] -%}
        cast({{ spec['by'] }} as varchar) in {{ _sql_list(changed_partitions()) }}
    {%- endif -%}
{%- endmacro %}


{#- Cross pattern, on the input: its rows in a partition this run recomputes, and those whose keys the pre-hook
    put in the recheck table (every row when the table cannot be reused). -#}
{% macro cross_filter() -%}
    {%- if not incremental_reusable() -%}true{%- else -%}
        {%- set spec = model.config.get('meta', {})['partition'] -%}
        (cast({{ spec['by'] }} as varchar) in {{ _sql_list(changed_partitions()) }}
            or {{ spec['key'] }} in (select {{ spec['key'] }} from {{ recheck_relation() }}))
    {%- endif -%}
{%- endmacro %}


{#- Whole pattern, on the final select: false when the table is kept as it is (its inputs and code unchanged). -#}
{% macro whole_filter() -%}
    {{- 'false' if incremental_reusable() else 'true' -}}
{%- endmacro %}


{#- SQL filter: keys not already in the table (every key when the table cannot be reused). -#}
{% macro new_keys_filter(key) -%}
    {%- if incremental_reusable() -%}
        {{ key }} not in (select {{ key }} from {{ this }} where {{ key }} is not null)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- Keyed pattern with 'generation': <column>: the number of this build among those that added rows (1 for the
    first), for the rows it adds; it never decreases, even when every row was dropped or the table rebuilt
    (the pairs pattern tells new rows from old ones by it). -#}
{% macro next_generation() -%}
    {%- if execute and this is not none and model is defined and model.resource_type == 'model' -%}
        {%- set col = model.config.get('meta', {})['keyed']['generation'] -%}
        {%- set seen = [(_stored_state().get('@generation') or '0') | int] -%}
        {%- if is_incremental() -%}
            {%- do seen.append(run_query("select coalesce(max(" ~ col ~ "), 0) from " ~ this).rows[0][0] | int) -%}
        {%- endif -%}
        {{- seen | max + 1 -}}
    {%- else -%}
        1
    {%- endif -%}
{%- endmacro %}


{#- Pairs pattern, on the input: its rows added since this table was last built (every row when it cannot be
    reused), and the others. -#}
{% macro new_rows_filter() -%}
    {%- if incremental_reusable() -%}
        {{ model.config.get('meta', {})['pairs']['added'] }} > {{ _stored_state()['@added'] }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{% macro old_rows_filter() -%}
    {%- if incremental_reusable() -%}
        {{ model.config.get('meta', {})['pairs']['added'] }} <= {{ _stored_state()['@added'] }}
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}


{#- Partition pattern with `recheck`: the table the pre-hook fills with the keys this run recomputes. -#}
{% macro recheck_relation() -%}
    {%- if this is defined and this is not none and this.identifier -%}
        {{- return(api.Relation.create(database=this.database, schema=this.schema,
                                       identifier=this.identifier ~ '__recheck')) -}}
    {%- else -%}
        {{- return('recheck') -}}
    {%- endif -%}
{%- endmacro %}


{#- Partition pattern: a row whose key is in no partition of the input that this run keeps. -#}
{% macro _not_kept(spec, keep) -%}
    {{ spec['key'] }} not in (
        select {{ spec['key'] }} from {{ _input_relation(spec['input']) }}
        where cast({{ spec['by'] }} as varchar) not in {{ keep }} and {{ spec['key'] }} is not null)
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
            {#- partitions the table holds rows of that change or went: none when a run only adds datasets, and
                then no row needs deleting. The rows come from the input's partitions the state records with a
                fingerprint of their own (one of an `also` input only, `+...`, had no input rows). -#}
            {%- set stored = _stored_state() -%}
            {%- set stale = [] -%}
            {%- for part in changed_partitions() + gone_partitions() if stored.get(part, '+')[:1] != '+' -%}
                {%- do stale.append(part) -%}
            {%- endfor -%}
            {%- if 'recheck' in spec -%}
                {#- rows that may change: those listing a changed or removed partition, and the keys the changed
                    partitions use now -#}
                {%- set rc = spec['recheck'] -%}
                create or replace table {{ recheck_relation() }} as
                select {{ spec['key'] }} from {{ this }}
                where list_has_any({{ rc['list'] }}, {{ _sql_array(changed_partitions() + gone_partitions()) }})
                union
                select {{ spec['key'] }} from {{ ref(rc['keys']) }}
                where cast({{ spec['by'] }} as varchar) in {{ keep }} and {{ spec['key'] }} is not null;
                delete from {{ this }} where {{ spec['key'] }} in (select {{ spec['key'] }} from {{ recheck_relation() }})
            {%- elif 'cross' in spec -%}
                {#- the changed partitions' rows, and those that depended or depend on other partitions -#}
                create or replace table {{ recheck_relation() }} as
                select {{ spec['key'] }} from {{ this }} where {{ spec['cross']['stored'] }}
                union
                select {{ spec['key'] }} from {{ ref(spec['cross']['keys']) }} where {{ spec['key'] }} is not null;
                delete from {{ this }} where {{ spec['key'] }} in (select {{ spec['key'] }} from {{ recheck_relation() }})
                {%- if stale %} or {{ _not_kept(spec, keep) }}{% endif %}
            {%- elif not stale -%}
                select 1
            {%- elif 'column' in spec -%}
                delete from {{ this }} where cast({{ spec['column'] }} as varchar) in {{ keep }}
                    or cast({{ spec['column'] }} as varchar) not in (
                        select cast({{ spec['by'] }} as varchar) from {{ _input_relation(spec['input']) }})
            {%- else -%}
                delete from {{ this }} where {{ _not_kept(spec, keep) }}
            {%- endif -%}
        {%- elif 'keyed' in meta -%}
            {%- set spec = meta['keyed'] -%}
            delete from {{ this }} where {{ spec['key'] }} not in (
                select {{ spec['key'] }} from {{ _input_relation(spec['input']) }} where {{ spec['key'] }} is not null)
        {%- elif 'pairs' in meta -%}
            {#- keep the pairs of two old contents still in the input; the others are recomputed -#}
            {%- set spec = meta['pairs'] -%}
            {%- for col in spec['columns'] %}
            delete from {{ this }} where {{ col }} not in (
                select {{ spec['key'] }} from {{ _input_relation(spec['input']) }} where {{ old_rows_filter() }});
            {%- endfor %}
        {%- else -%}
            select 1
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{#- post-hook: record the input state this table now reflects (and drop this run's cache and recheck table). -#}
{% macro incremental_save() -%}
    {%- if execute -%}
        {%- set current = _current_state() -%}
        {%- set keyed = model.config.get('meta', {}).get('keyed', {}) -%}
        {%- if 'generation' in keyed -%}
            {%- set seen = [(_stored_state().get('@generation') or '0') | int] -%}
            {%- do seen.append(run_query("select coalesce(max(" ~ keyed['generation'] ~ "), 0) from " ~ this).rows[0][0] | int) -%}
            {%- do current.update({'@generation': seen | max | string}) -%}
        {%- endif %}
        {%- set scope = _test_scope() %}
        delete from {{ incremental_state_table() }}
        where model = '{{ model.name }}' or starts_with(model, '{{ model.name }}@');
        insert into {{ incremental_state_table() }} values {{ _state_values(model.name, current) }};
        {%- if scope is not none %}
        insert into {{ incremental_state_table() }} values
            ('{{ model.name }}#scope@{{ invocation_id }}', 'where', '{{ scope | replace("'", "''") }}');
        {%- endif %}
        {%- set export_by = model.config.get('meta', {}).get('export', {}).get('by') %}
        {%- if export_by %}
        {#- the per-dataset export files the rows this run wrote belong to (macros/export_marts.sql), kept until
            the export has written them -#}
        insert into {{ incremental_state_table() }}
        select distinct '{{ model.name }}#unexported', {{ export_file_name(export_by) }}, '' from {{ this }}
        {%- if scope is not none %} where {{ scope }}{% endif %};
        {%- endif %}
        {%- if 'recheck' in model.config.get('meta', {}).get('partition', {}) %}
        drop table if exists {{ recheck_relation() }};
        {%- endif %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{#- The rows this run wrote, as a predicate on the table (none: every row may have changed, or the new rows
    cannot be told apart). Rendered by the post-hook, before it records the new state. -#}
{% macro _test_scope() -%}
    {%- if not incremental_reusable() -%}{{- return(none) -}}{%- endif -%}
    {%- set meta = model.config.get('meta', {}) -%}
    {%- if 'partition' in meta and 'recheck' not in meta['partition'] -%}
        {%- set spec = meta['partition'] -%}
        {%- set changed = _sql_list(changed_partitions()) -%}
        {%- if 'column' in spec -%}
            {{- return('cast(' ~ spec['column'] ~ ' as varchar) in ' ~ changed) -}}
        {%- endif -%}
        {%- set scope = spec['key'] ~ ' in (select ' ~ spec['key'] ~ ' from ' ~ _input_relation(spec['input'])
                   ~ ' where cast(' ~ spec['by'] ~ ' as varchar) in ' ~ changed ~ ')' -%}
        {%- if 'cross' in spec -%}
            {#- the recheck table stays until the run ends (incremental_cleanup), for the tests -#}
            {%- set scope = scope ~ ' or ' ~ spec['key'] ~ ' in (select ' ~ spec['key'] ~ ' from '
                ~ recheck_relation() ~ ')' -%}
        {%- endif -%}
        {{- return(scope) -}}
    {%- elif 'whole' in meta -%}
        {{- return('false') -}}
    {%- elif 'generation' in meta.get('keyed', {}) -%}
        {#- the generations before this run's (the post-hook has not recorded this one yet) -#}
        {{- return(meta['keyed']['generation'] ~ ' > ' ~ ((_stored_state().get('@generation') or '0') | int)) -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}


{#- The predicate a test of `relation` runs under in this run: the rows the model's post-hook recorded as
    written (see _test_scope), or none. -#}
{% macro incremental_test_scope(relation) -%}
    {%- if not execute or relation is none or relation.identifier is none -%}{{- return(none) -}}{%- endif -%}
    {#- dbt's relation cache, not a query: on a database that had no state table when the run began, every row is
        tested (a first build wrote every row anyway) -#}
    {%- set parts = incremental_state_table().split('.') -%}
    {%- if adapter.get_relation(database=relation.database, schema=parts[0], identifier=parts[1]) is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set rows = run_query("select fingerprint from " ~ incremental_state_table() ~ " where model = '"
        ~ relation.identifier ~ "#scope@" ~ invocation_id ~ "' and part = 'where'") -%}
    {{- return(rows.rows[0][0] if rows.rows else none) -}}
{%- endmacro %}


{#- dbt's hook for a generic test's `model` argument: the `where` config as dbt has it, and in an incremental
    build the rows this run wrote (incremental_test_scope). -#}
{% macro get_where_subquery(relation) -%}
    {%- set wheres = [] -%}
    {%- if config.get('where', '') -%}{%- do wheres.append('(' ~ config.get('where') ~ ')') -%}{%- endif -%}
    {%- set scope = incremental_test_scope(relation) -%}
    {%- if scope is not none -%}{%- do wheres.append('(' ~ scope ~ ')') -%}{%- endif -%}
    {%- if wheres -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ wheres | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
