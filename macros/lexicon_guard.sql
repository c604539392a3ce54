{#- Word-sense guard of the lexicons (seed lexicon_sense_guards): a lexicon term next to a context that gives it
    another sense ("candy cane", "old photo", "chinese restaurant", "water gun") is no mention. For each guard row
    a regular expression is built when the model compiles:
      before    context within `max_words` words before the term ("the lion king", "toy pistol")
      after     context within `max_words` words after the term ("old-fashioned", "european palace court")
      quoted    the term inside double quotes (a title or a text: "next ninja kid")
      anywhere  the context anywhere in the same text cancels every occurrence ("cane" beside "hat")
    Words in a window are letters, digits and apostrophes joined by spaces or hyphens, so punctuation ends a
    window. `--vars '{lexicon_sense_guard: false}'` turns the guard off (to measure what it cancels). Terms and contexts match with their regular plurals (s, es, y -> ies), like the lexicon. -#}

{% macro _word_forms(words) -%}
    {%- set out = [] -%}
    {%- for w in words -%}
        {%- set w = w | trim | lower -%}
        {%- if w -%}
            {%- do out.append(regex_escape(w)) -%}
            {%- do out.append(regex_escape(w ~ 's')) -%}
            {%- do out.append(regex_escape(w ~ 'es')) -%}
            {%- if w.endswith('y') -%}{%- do out.append(regex_escape(w[:-1] ~ 'ies')) -%}{%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(out | unique | list) -}}
{%- endmacro %}


{#- The guard regexes per lexicon term: {term: [(position, regex), ...]} for one lexicon (`demographic` or
    `safety`), whose seed gives each term its group (`group_column`). -#}
{% macro lexicon_guard_rules(lexicon, lexicon_seed, group_column) -%}
    {%- set terms_by_group = {} -%}
    {%- set all_terms = [] -%}
    {%- for r in seed_rows(lexicon_seed, ['term', group_column]) -%}
        {%- do all_terms.append(r['term'] | lower) -%}
        {%- do terms_by_group.setdefault(r[group_column], []).append(r['term'] | lower) -%}
    {%- endfor -%}
    {%- set rules = {} -%}
    {%- for g in seed_rows('lexicon_sense_guards', ['lexicon', 'term', 'term_group', 'position', 'max_words', 'context'])
            if g['lexicon'] == lexicon -%}
        {%- if g['term'] -%}{%- set terms = [g['term'] | lower] -%}
        {%- elif g['term_group'] == '*' -%}{%- set terms = all_terms -%}
        {%- else -%}{%- set terms = terms_by_group.get(g['term_group'], []) -%}
        {%- endif -%}
        {%- set ctx = _word_forms((g['context'] or '').split('|')) | join('|') -%}
        {%- set gap = "(?:[\\s-]+[a-z0-9'']+){0," ~ ([(g['max_words'] or 1) | int, 1] | max - 1) ~ '}[\\s-]+' -%}
        {%- for t in terms if t in all_terms -%}
            {%- set tf = _word_forms([t]) | join('|') -%}
            {%- if g['position'] == 'before' -%}
                {%- set rx = '\\b(?:' ~ ctx ~ ')' ~ gap ~ '(?:' ~ tf ~ ')\\b' -%}
            {%- elif g['position'] == 'after' -%}
                {%- set rx = '\\b(?:' ~ tf ~ ')' ~ gap ~ '(?:' ~ ctx ~ ')\\b' -%}
            {%- elif g['position'] == 'quoted' -%}
                {%- set rx = '["“”][^"“”]*\\b(?:' ~ tf ~ ')\\b[^"“”]*["“”]' -%}
            {%- else -%}
                {%- set rx = '\\b(?:' ~ ctx ~ ')\\b' -%}
            {%- endif -%}
            {%- do rules.setdefault(t, []).append((g['position'], rx)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(rules) -}}
{%- endmacro %}


{#- How many occurrences of lexicon term `term_expr` in `text_expr` a guard cancels (a large number when an
    `anywhere` context is present); 0 for terms without a guard. A hit stands while it has more occurrences. -#}
{% macro lexicon_guarded_count(text_expr, term_expr, lexicon, lexicon_seed, group_column) -%}
    {%- set rules = lexicon_guard_rules(lexicon, lexicon_seed, group_column) if var('lexicon_sense_guard', true) else {} -%}
    {%- if not rules -%}0{%- else -%}
    case {{ term_expr }}
    {%- for t, rxs in rules.items() %}
        when '{{ t | replace("'", "''") }}' then 0
        {%- for pos, rx in rxs %}
            {%- if pos == 'anywhere' %} + case when regexp_matches({{ text_expr }}, '{{ rx }}') then 1000000 else 0 end
            {%- else %} + len(regexp_extract_all({{ text_expr }}, '{{ rx }}'))
            {%- endif -%}
        {%- endfor -%}
    {%- endfor %}
        else 0
    end
    {%- endif -%}
{%- endmacro %}
