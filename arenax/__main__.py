"""`python -m arenax` runs the command line."""

from arenax.cli import main

main()
