-- Instruction features per distinct instruction: length, language guess, leading verb, clauses, object nouns.
-- Language guess, for short texts too ("enhance overall brightness"): letters of a non-Latin script more numerous
-- than the Latin words decide by script (kana -> ja before Han -> zh, so Japanese with kanji is ja); otherwise
-- the Latin words are looked up in the seed language_words (read when the model compiles) and the language with
-- the most distinct words found wins; none found, or a tie at the top -> unknown.
-- depends_on: {{ ref('language_words') }}
-- Incremental by key (macros/incremental.sql): a build processes only instructions not yet in the table.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    meta={'keyed': {'input': 'int_instructions', 'key': 'instruction_key'}},
    pre_hook="{{ incremental_prune() }}",
    post_hook="{{ incremental_save() }}",
) }}
with

instructions as (

    select * from {{ ref('int_instructions') }}
    where {{ new_keys_filter('instruction_key') }}

),

scripts as (

    select
        *,
        regexp_extract_all(instruction_norm, '[a-z\x{00c0}-\x{00d6}\x{00d8}-\x{00f6}\x{00f8}-\x{024f}]+')
            as latin_words,
        len(regexp_extract_all(instruction_norm,
            '[\x{0370}-\x{03ff}\x{0400}-\x{04ff}\x{0590}-\x{05ff}\x{0600}-\x{06ff}\x{0900}-\x{097f}\x{0e00}-\x{0e7f}\x{1100}-\x{11ff}\x{3040}-\x{30ff}\x{3400}-\x{9fff}\x{ac00}-\x{d7af}]'))
            as n_other_script_letters
    from instructions

),

language_scored as (

    select *, {{ language_scores('latin_words') }} as language_scores
    from scripts

),

features as (

    select
        instruction_key,
        len(regexp_extract_all(instruction_norm, '[^\s]+')) as n_words,
        len(clauses) as n_clauses,
        case
            when instruction_norm = '' then 'empty'
            when n_other_script_letters > len(latin_words) then case
                when regexp_matches(instruction_norm, '[\x{3040}-\x{30ff}]') then 'ja'
                when regexp_matches(instruction_norm, '[\x{ac00}-\x{d7af}\x{1100}-\x{11ff}]') then 'ko'
                when regexp_matches(instruction_norm, '[\x{3400}-\x{9fff}]') then 'zh'
                when regexp_matches(instruction_norm, '[\x{0400}-\x{04ff}]') then 'ru'
                when regexp_matches(instruction_norm, '[\x{0600}-\x{06ff}]') then 'ar'
                when regexp_matches(instruction_norm, '[\x{0370}-\x{03ff}]') then 'el'
                when regexp_matches(instruction_norm, '[\x{0590}-\x{05ff}]') then 'he'
                when regexp_matches(instruction_norm, '[\x{0900}-\x{097f}]') then 'hi'
                else 'th'
            end
            when language_scores[1].n > 0 and language_scores[1].n > language_scores[2].n
                then language_scores[1].language
            else 'unknown'
        end as language_guess,
        nullif(regexp_extract(instruction_norm,
            '^(?:please\s+|can you\s+|could you\s+|let''s\s+|i want to\s+|i''d like to\s+)?([a-z]+)', 1), '')
            as leading_verb,
        list_distinct(list_filter(
            list_transform(
                regexp_extract_all(instruction_norm,
                    '\b(?:the|a|an|this|that|these|those|his|her|their|its|some|two|three)\s+(?:(?:red|blue|green|yellow|purple|pink|orange|black|white|gr[ae]y|brown|golden|big|small|little|large|tiny|huge|old|young|new|original|whole|entire)\s+)?([a-z]+)\b', 1),
                w -> w),
            w -> w not in ('image', 'picture', 'photo', 'left', 'right', 'top', 'bottom', 'side', 'middle',
                           'same', 'original', 'new', 'other', 'way', 'one', 'overall', 'entire', 'whole', 'it',
                           'and', 'of', 'with', 'in', 'on', 'to', 'is', 'be', 'more', 'less', 'look')
        )) as object_nouns
    from language_scored

)

select * from features
