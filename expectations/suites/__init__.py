"""One module per source entity (or mart), each exposing `build_suite(context) -> ExpectationSuite`."""
