"""`python -m mlreg`: the command line."""

from mlreg.cli import main

main()
