"""TLS 1.2 server for the schannel probe (OpenSSL through Python, no Rust).

server.py PORT CERT KEY BYTES RECORD: after the handshake, reads one line,
writes BYTES bytes in writes of RECORD bytes (one TLS record each), then keeps
the connection open for 15 s, as a TDS server waits for the next request.
"""
import socket
import ssl
import sys
import time

port, cert, key, total, record = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(cert, key)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(port)))
listener.listen(1)
conn, _ = listener.accept()
tls = ctx.wrap_socket(conn, server_side=True)
print("negotiated", tls.version(), tls.cipher()[0], flush=True)
tls.recv(100)
data = b"x" * total
for i in range(0, total, record):
    tls.write(data[i:i + record])
time.sleep(15)
tls.close()
