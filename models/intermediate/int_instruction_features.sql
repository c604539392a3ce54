-- Instruction features per distinct instruction: length, language guess, leading verb, clauses, object nouns.
with

instructions as (

    select * from {{ ref('int_instructions') }}

),

features as (

    select
        instruction_key,
        len(regexp_extract_all(instruction_norm, '[^\s]+')) as n_words,
        len(clauses) as n_clauses,
        case
            when instruction_norm = '' then 'empty'
            when regexp_matches(instruction_norm, '[\x{4e00}-\x{9fff}]') then 'zh'
            when regexp_matches(instruction_norm, '[\x{3040}-\x{30ff}]') then 'ja'
            when regexp_matches(instruction_norm, '[\x{ac00}-\x{d7af}]') then 'ko'
            when regexp_matches(instruction_norm, '[\x{0400}-\x{04ff}]') then 'ru'
            when regexp_matches(instruction_norm, '[\x{0600}-\x{06ff}]') then 'ar'
            when regexp_matches(instruction_norm,
                '\b(?:the|a|an|to|of|and|with|in|on|it|make|add|remove|change|replace|turn|put)\b') then 'en'
            when regexp_matches(instruction_norm, '\b(?:el|la|los|las|und|der|die|das|le|les|des|une)\b')
                then 'other_latin'
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
    from instructions

)

select * from features
