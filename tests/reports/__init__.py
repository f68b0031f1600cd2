"""Tests of simulation/reports/."""
