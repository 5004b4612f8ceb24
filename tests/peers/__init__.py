"""Protocol-faithful Asterisk peers for tests: ARI (HTTP + WebSocket), FastAGI client, AudioSocket client."""
