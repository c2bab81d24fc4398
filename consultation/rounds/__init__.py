"""Comment rounds on draft regulations."""
