"""Comments on topics: threads, stances, reactions, reports and moderation."""
