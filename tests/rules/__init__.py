"""Tests of simulation/rules/."""
