#!/usr/bin/env python3
"""A pysaml2 service provider web application for the browser tests (tests/saml-sp/run.sh
sp_server.py ...): what a SaaS application does with the gateway as its IdP.

  GET  /protected   not signed in: a signed AuthnRequest (HTTP-Redirect) to the IdP
  POST /acs         the SAMLResponse, validated by pysaml2; the page shows the user:
                    <p id="user">NameID</p>, <p id="authn">AuthnContextClassRef</p>,
                    <pre id="attributes">JSON</pre>; 403 with the reason if refused

  sp_server.py --idp-metadata FILE --port PORT --base https://host:PORT --cert PEM --key PEM

Serves HTTPS on 127.0.0.1:PORT with the given certificate; prints "ready" when listening.
"""

import argparse
import html
import http.server
import json
import os
import re
import ssl
import sys
import urllib.parse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "..", "gateway", "tests", "vectors", "saml")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--idp-metadata", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    args = p.parse_args()

    conf = SPConfig()
    conf.load(
        {
            "entityid": f"{args.base}/metadata",
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(f"{args.base}/acs", BINDING_HTTP_POST)]},
                    "authn_requests_signed": True,
                    "want_assertions_signed": True,
                }
            },
            "metadata": {"local": [args.idp_metadata]},
            "key_file": os.path.join(VECTORS, "sp.key"),
            "cert_file": os.path.join(VECTORS, "sp.pem"),
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "accepted_time_diff": 60,
            "allow_unknown_attributes": True,
        }
    )
    client = Saml2Client(config=conf)
    with open(args.idp_metadata, encoding="utf-8") as f:
        idp = re.search(r'entityID="([^"]+)"', f.read()).group(1)
    outstanding = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            sys.stderr.write("sp: " + (fmt % a) + "\n")

        def page(self, status, body):
            data = ("<!DOCTYPE html><html><body>" + body + "</body></html>").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if urllib.parse.urlsplit(self.path).path != "/protected":
                return self.page(404, "not found")
            req_id, info = client.prepare_for_authenticate(
                entityid=idp,
                binding=BINDING_HTTP_REDIRECT,
                relay_state="/protected",
                sign=True,
                sigalg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
            )
            outstanding[req_id] = "/protected"
            self.send_response(302)
            self.send_header("Location", dict(info["headers"])["Location"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            if self.path != "/acs":
                return self.page(404, "not found")
            n = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(n).decode())
            try:
                r = client.parse_authn_request_response(
                    form["SAMLResponse"][0], BINDING_HTTP_POST, outstanding=outstanding
                )
                authn = r.authn_info()[0][0] if r.authn_info() else ""
                self.page(
                    200,
                    f'<p id="user">{html.escape(r.name_id.text)}</p>'
                    f'<p id="authn">{html.escape(authn)}</p>'
                    f'<p id="relay">{html.escape(form.get("RelayState", [""])[0])}</p>'
                    f'<pre id="attributes">{html.escape(json.dumps(r.get_identity()))}</pre>',
                )
            except Exception as e:  # pysaml2 refuses with many exception types
                self.page(403, f'<p id="refused">{html.escape(type(e).__name__ + ": " + str(e))}</p>')

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
