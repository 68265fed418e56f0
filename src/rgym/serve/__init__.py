"""`rgym serve`: rgym's environments over HTTP/WebSocket, OpenEnv-compatible."""
