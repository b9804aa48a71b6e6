"""NWB files the tests and benchmarks generate with pynwb and its extensions."""
