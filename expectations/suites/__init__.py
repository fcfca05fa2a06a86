"""Domain checks per source entity: `add_domain_checks(suite, context)`, added by
`expectations.generated` to the checks it generates from the contract (and the marts' suites)."""
