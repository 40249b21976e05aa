"""Operator tools: the command line, reference and demo data, migrations, backup."""
