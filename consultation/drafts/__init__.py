"""Draft regulations: parsing Chinese legislative text into a provision tree and comparing versions."""
