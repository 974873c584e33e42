import WebSocket
print("bench: not yet")
