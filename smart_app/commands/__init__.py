"""Sub-commands of the smart-edu console script, one module each."""
