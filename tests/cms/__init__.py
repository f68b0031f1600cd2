"""Tests of the CMS results readers."""
