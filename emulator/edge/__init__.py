"""One endpoint for every local AWS service, as LocalStack's edge port: each request goes to the
service its SigV4 signature names (routing.py), forwarded unchanged (proxy.py) by a loopback-only
server (server.py)."""
