"""In-app notifications, and messages (email, SMS, one-time codes) sent through the outbox."""
