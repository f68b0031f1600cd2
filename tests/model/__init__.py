"""Tests of simulation/model/."""
