{#- Language scores of a list of lower-cased Latin words: one {n, language} struct per language of the seed
    language_words (function words and editing vocabulary), n = distinct words of the list found in that
    language's words, sorted by n, highest first. The seed is read when the model compiles; a model using the
    macro declares `-- depends_on: {{ ref('language_words') }}`. -#}
{% macro language_scores(words_expr) -%}
    {%- set by_lang = {} -%}
    {%- for r in seed_rows('language_words', ['language', 'word']) -%}
        {%- do by_lang.setdefault(r['language'], []).append(r['word'] | lower | replace("'", "''")) -%}
    {%- endfor -%}
    list_reverse_sort([
    {%- for lang, ws in by_lang | dictsort %}
        {'n': len(list_intersect({{ words_expr }}, ['{{ ws | join("', '") }}'])), 'language': '{{ lang }}'},
    {%- endfor %}
        {'n': 0, 'language': 'unknown'}
    ])
{%- endmacro %}
