"""Deliberation sessions (议事会): scheduling, sign-up with a waitlist, attendance, minutes."""
