"""Tests of the command line, one module per command of simulation/cli/."""
