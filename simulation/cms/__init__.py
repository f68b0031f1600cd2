"""CMS's files: the results reader, the ACO linker, real ACOs, reconciliation against CMS."""
