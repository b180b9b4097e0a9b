"""The customer area's pages, a module per page family (DESIGN.md §7)."""
