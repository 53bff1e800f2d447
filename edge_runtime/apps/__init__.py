"""The console commands: edge-recognize and friends, edge-demo, edge-doctor."""
