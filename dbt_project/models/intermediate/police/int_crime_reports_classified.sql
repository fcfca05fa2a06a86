-- Each police report victim in its latest recorded version, with its municipality resolved
-- and its offence classified in the ICCS: the current state of every report, which
-- `fct_crime_reports` publishes. The history lives in int_crime_report_versions_classified.
with

versions as (

    select * from {{ ref('int_crime_report_versions_classified') }}

),

final as (

    select * from versions
    where is_latest_version

)

select * from final
