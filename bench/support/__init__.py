"""What the benchmarks under bench/ share: starting and stopping the processes under test, their resident memory,
wrk runs, broker queue depths, and the results file every benchmark writes (bench/README-less: see each module)."""
