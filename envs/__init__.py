"""One folder per prover: ``sr`` (symbolic regression), ``holist`` (HOL Light), ``lean`` (Lean 4)."""
