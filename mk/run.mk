# rules for the run area
