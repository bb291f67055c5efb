# rules for the pipeline area
