-- The review list cut per reviewing institution, so each institution receives its own file
-- (extracts/mesa_interinstitucional.yaml, split by `institution`) holding only its own
-- record keys: the victims it has no record of (no key: it searches by month and place) and
-- its own records of victims another institution has no record of (its key, which only it
-- can look up). No institution ever receives another's record keys.
with

review_list as (

    select * from {{ ref('mart_victim_review_list') }}

),

institutions as (

    select unnest(array['police', 'prosecution', 'forensic', 'hospital']) as institution

),

keyed as (

    select
        institutions.institution,
        review_list.*,
        case institutions.institution
            when 'police' then review_list.police_record_key
            when 'prosecution' then review_list.prosecution_record_key
            when 'forensic' then review_list.forensic_record_key
            when 'hospital' then review_list.hospital_record_key
        end as own_record_key

    from review_list
    cross join institutions

),

final as (

    select
        institution || '|' || review_id as institution_review_id,
        institution,
        missing_institution,
        victim_id,
        month,
        municipality_code,
        final_status,
        systems,
        record_count,
        is_unidentified,
        is_late_death,
        own_record_key

    from keyed
    where institution = missing_institution or own_record_key is not null

)

select * from final
