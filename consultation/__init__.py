"""Yishiting domain: models, write use cases (services), reads (queries), policy and rules.

This package never imports ``web`` or ``search``; the web layer is the composition root.
"""
