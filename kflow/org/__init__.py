"""Organisation: units in a tree with its closure, users and their roles."""
