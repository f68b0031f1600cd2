"""Tests of the calibration package, one module per module of simulation/calibration/."""
