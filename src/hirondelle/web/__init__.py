"""The web side of Hirondelle: customer area, API console and short links."""
