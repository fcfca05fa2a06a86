"""One module per source entity (or mart), each with `build_suite(context) -> ExpectationSuite`."""
