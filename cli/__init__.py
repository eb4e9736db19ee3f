"""The `reassembly` command line: runs the service processes, trains the zoo, runs the demo."""
