"""HTTP and WebSocket: the registry API, operators' live desk, QA review pages."""
