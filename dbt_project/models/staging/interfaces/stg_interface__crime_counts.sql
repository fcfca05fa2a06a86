-- The canonical interface of aggregated crime statistics: one row per municipality, month,
-- national offence and breakdown that a source publishes as a count (`interface:
-- crime_counts:` in ingestion/contracts/), with the ICCS code of its correspondence.
with

counts as (

    {{ interface_union('crime_counts', added=['iccs_code']) | indent(4) }}

),

correspondences as (

    select * from {{ ref('ref_offence_correspondences') }}

),

final as (

    select
        counts.*,
        correspondences.iccs_code

    from counts
    left join correspondences
        on
            counts.correspondence = correspondences.correspondence
            and counts.national_offence_code = correspondences.national_offence_code

)

select * from final
