"""The administrative tree (city → district → street → community → compound), households and units."""
