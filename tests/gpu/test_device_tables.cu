// GPU cases for this area are added here (placeholder until its issue lands).
