"""HOList-v0: HOL Light as a Gymnasium environment, in the HOList setting."""
