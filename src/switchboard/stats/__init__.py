"""Statistics: cumulative figures from the event log, real-time figures from live state."""
