"""Card proposal: recognised text in, topic/service/emergency/address/summary out. Knows nothing of HTTP or Asterisk."""
