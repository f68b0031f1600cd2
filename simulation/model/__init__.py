"""The model floor: the scenario, the plan of rules per year, the simulation and its analyses."""
