-- One row per edit x score metric with a value (nulls dropped): the long form that score distributions and
-- histograms aggregate. Ephemeral: inlined where it is used, never stored.
{{ config(materialized='ephemeral') }}

with

edits as (

    select
        dataset, part, clip_i, clip_t_target_caption, clip_t_instruction, directional_caption,
        directional_instruction, directional_instruction_core, pixel_changed_frac, cast(phash_distance as double) as phash_distance
    from {{ ref('edits') }}

),

unpivoted as (

    unpivot edits
    on clip_i, clip_t_target_caption, clip_t_instruction, directional_caption, directional_instruction,
        directional_instruction_core, pixel_changed_frac, phash_distance
    into name metric value score

)

select * from unpivoted
