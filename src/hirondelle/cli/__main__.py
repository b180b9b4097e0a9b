"""`python -m hirondelle.cli`."""

from hirondelle.cli import main

main()
