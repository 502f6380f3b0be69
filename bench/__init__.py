"""``make bench``: webhook acknowledgement latency and throughput, bot vs. a bare HMAC server."""
