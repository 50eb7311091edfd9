"""Sample districts and filled values for `assess-xl demo` (data only)."""
