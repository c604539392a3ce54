{#- Clause splitting for instructions: sentence punctuation, commas, "and/then/also" before an imperative verb
    ("remove the cat and add a dog" -> two clauses; "the size and position" stays one), and purpose phrases. -#}
{% macro split_clauses(expr) -%}
    string_split_regex(
        regexp_replace(
            -- purpose phrases ("..., making it look like", "to create a ...") become clauses of their own
            regexp_replace({{ expr }},
                '\s+(to make|so that|so as to|in order to|making|as if|as though|to create|creating|to give|giving|to achieve|to highlight|to emphasize)\b',
                ', \1', 'g'),
            '\s+(?:and|then|also|while)\s+(?:then\s+|also\s+)?(add|adjust|apply|blur|brighten|change|convert|copy|crop|darken|delete|enhance|enlarge|erase|fill|fix|flip|increase|insert|keep|lower|make|mirror|modify|move|paint|place|put|raise|reduce|remove|repair|replace|reposition|resize|restore|retain|rotate|scale|shrink|swap|tilt|transform|turn|use|write)\b',
            ', \1', 'g'),
        '[.;!?:\n]+\s*|,\s*|\s+(?:then|while)\s+')
{%- endmacro %}


{#- Rows of a seed as a list of dicts, read when the model is compiled (so regular expressions are constants
    that DuckDB compiles once, instead of once per row). Empty at parse time. A model using it declares the
    dependency with `-- depends_on: {{ ref('<seed>') }}`. -#}
{% macro seed_rows(seed_name, columns) -%}
    {%- set rows = [] -%}
    {%- if execute -%}
        {%- set cols = [] -%}
        {%- for c in columns -%}{%- do cols.append('"' ~ c ~ '"') -%}{%- endfor -%}
        {#- the seed's table itself (not ref(), which a unit test replaces by an inline fixture) -#}
        {%- set nodes = graph.get('nodes', {}) -%}
        {%- set node = nodes.get('seed.editlens.' ~ seed_name) -%}
        {%- if node -%}
            {%- set rel = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- else -%}{#- unit tests see no graph: seeds live in the target schema -#}
            {%- set rel = api.Relation.create(database=target.database, schema=target.schema, identifier=seed_name) -%}
        {%- endif -%}
        {%- set res = run_query('select ' ~ cols | join(', ') ~ ' from ' ~ rel ~ ' order by 1') -%}
        {%- for r in res.rows -%}
            {%- set d = {} -%}
            {%- for c in columns -%}{%- do d.update({c: r[loop.index0]}) -%}{%- endfor -%}
            {%- do rows.append(d) -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(rows) -}}
{%- endmacro %}


{#- A list of {label, priority} structs, one per taxonomy rule of the given priority class matching `expr`. -#}
{% macro taxonomy_hits(expr, fallback=false) -%}
    {%- set rules = seed_rows('taxonomy_rules', ['pattern', 'label', 'priority']) -%}
    list_filter([
    {%- for r in rules if (r['priority'] == 0) == fallback %}
        case when regexp_matches({{ expr }}, '{{ r["pattern"] | replace("'", "''") }}')
            then {'label': '{{ r["label"] }}', 'priority': {{ r["priority"] }}} end,
    {%- endfor %}
        cast(null as struct(label varchar, priority integer))
    ], x -> x is not null)
{%- endmacro %}


{#- Whole-word lexicon matches in `expr` (lower-cased text) as a list of matched forms. Forms are the terms plus
    regular plurals (s, es, y -> ies); multi-word terms are matched in a second pass so "old man" counts for
    both "old man" and "man". -#}
{% macro lexicon_forms(seed_name) -%}
    {%- set forms = [] -%}
    {%- for r in seed_rows(seed_name, ['term']) -%}
        {%- set t = r['term'] | lower -%}
        {%- do forms.append(t) -%}
        {%- do forms.append(t ~ 's') -%}
        {%- do forms.append(t ~ 'es') -%}
        {%- if t.endswith('y') -%}{%- do forms.append(t[:-1] ~ 'ies') -%}{%- endif -%}
    {%- endfor -%}
    {{- return(forms | unique | list) -}}
{%- endmacro %}

{% macro regex_escape(s) -%}
    {{- s | replace('\\', '\\\\') | replace('.', '\\.') | replace('+', '\\+') | replace('*', '\\*') | replace('?', '\\?') | replace('(', '\\(') | replace(')', '\\)') | replace('[', '\\[') | replace('|', '\\|') | replace("'", "''") -}}
{%- endmacro %}

{% macro lexicon_matches(expr, seed_name) -%}
    {%- set forms = lexicon_forms(seed_name) -%}
    {%- set single = [] -%}{%- set multi = [] -%}
    {%- for f in forms -%}
        {%- if ' ' in f -%}{%- do multi.append(regex_escape(f)) -%}{%- else -%}{%- do single.append(regex_escape(f)) -%}{%- endif -%}
    {%- endfor -%}
    {%- if not single -%}{%- do single.append('\\b\\B') -%}{%- endif -%}
    {%- if not multi -%}{%- do multi.append('\\b\\B') -%}{%- endif -%}
    list_concat(
        regexp_extract_all({{ expr }}, '\b(?:{{ single | join("|") }})\b'),
        regexp_extract_all({{ expr }}, '\b(?:{{ multi | join("|") }})\b')
    )
{%- endmacro %}


{#- Singular of a matched form, to join back to the lexicon: the form itself, minus s/es, or ies -> y. -#}
{% macro lexicon_join(form_col, term_col) -%}
    ({{ term_col }} = {{ form_col }}
     or {{ term_col }} || 's' = {{ form_col }}
     or {{ term_col }} || 'es' = {{ form_col }}
     or (right({{ term_col }}, 1) = 'y' and left({{ term_col }}, -1) || 'ies' = {{ form_col }}))
{%- endmacro %}
