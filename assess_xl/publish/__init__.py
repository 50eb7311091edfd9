"""What leaves the tool: forms, return copies, the scorecard, status, PDF and notices, the outbox and delivery."""
