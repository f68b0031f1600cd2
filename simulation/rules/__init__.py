"""The rules floor: the track catalog (policy as cited data) and the settlement arithmetic."""
