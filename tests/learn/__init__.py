"""Tests of simulation/learn/."""
