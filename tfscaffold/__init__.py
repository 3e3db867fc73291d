"""Render validated blue/green Terraform projects from a YAML service spec."""

__version__ = "0.1.0"
