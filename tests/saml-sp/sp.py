#!/usr/bin/env python3
"""A real SAML service provider (pysaml2) for the end-to-end tests, driven from the command line.

Configured only from the gateway's IdP metadata (and its own key and certificate):

  sp.py request --idp-metadata FILE --binding redirect|post [--unsigned] [--relay-state S]
      prints JSON {"request_id", "url"} (redirect) or {"request_id", "url", "saml_request",
      "relay_state"} (post): the AuthnRequest pysaml2 makes, signed with RSA-SHA256 unless
      --unsigned.
  sp.py logout --idp-metadata FILE --binding redirect|post --name-id NAME
      prints JSON {"request_id", "url"[, "saml_request"]}: a signed LogoutRequest.
  sp.py verify-logout --idp-metadata FILE --response BASE64
      checks the IdP's LogoutResponse (HTTP-POST): signature, destination, Success.
  sp.py verify --idp-metadata FILE --response BASE64 [--request-id ID]
      validates a SAMLResponse the way the SP would (signature against the metadata's
      certificate, audience, recipient, times, InResponseTo) and prints JSON {"name_id",
      "name_id_format", "issuer", "attributes", "authn_context"}; exit 1 with the reason if
      pysaml2 refuses it.

The SP: entityID https://sp.example/metadata, ACS https://sp.example/acs (HTTP-POST); keys in
gateway/tests/vectors/saml/sp.key and sp.pem. Run by tests/saml-sp/run.sh, which makes the
virtualenv with pysaml2 from PyPI.
"""

import argparse
import json
import os
import re
import sys

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "..", "gateway", "tests", "vectors", "saml")
ENTITY_ID = "https://sp.example/metadata"
ACS = "https://sp.example/acs"
SLO = "https://sp.example/slo"


def client(idp_metadata, sign):
    conf = SPConfig()
    conf.load(
        {
            "entityid": ENTITY_ID,
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(ACS, BINDING_HTTP_POST)],
                        "single_logout_service": [(SLO, BINDING_HTTP_POST)],
                    },
                    "authn_requests_signed": sign,
                    "want_assertions_signed": True,
                    "want_response_signed": False,
                    # IdP-initiated responses have no InResponseTo.
                    "allow_unsolicited": True,
                }
            },
            "metadata": {"local": [idp_metadata]},
            "key_file": os.path.join(VECTORS, "sp.key"),
            "cert_file": os.path.join(VECTORS, "sp.pem"),
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "accepted_time_diff": 60,
            "allow_unknown_attributes": True,
        }
    )
    return Saml2Client(config=conf)


def idp_entity_id(idp_metadata):
    with open(idp_metadata, encoding="utf-8") as f:
        return re.search(r'entityID="([^"]+)"', f.read()).group(1)


def request(args):
    c = client(args.idp_metadata, not args.unsigned)
    binding = BINDING_HTTP_REDIRECT if args.binding == "redirect" else BINDING_HTTP_POST
    sign_args = {} if args.unsigned else {"sign": True, "sigalg": SIG_RSA_SHA256, "digest_alg": DIGEST_SHA256}
    req_id, info = c.prepare_for_authenticate(
        entityid=idp_entity_id(args.idp_metadata),
        binding=binding,
        relay_state=args.relay_state,
        **sign_args,
    )
    out = {"request_id": req_id}
    if binding == BINDING_HTTP_REDIRECT:
        out["url"] = dict(info["headers"])["Location"]
    else:
        html = info["data"]
        out["url"] = re.search(r'action="([^"]+)"', html).group(1)
        out["saml_request"] = re.search(r'name="SAMLRequest" value="([^"]+)"', html).group(1)
        out["relay_state"] = args.relay_state
    print(json.dumps(out))


def verify(args):
    c = client(args.idp_metadata, False)
    outstanding = {args.request_id: "/"} if args.request_id else {}
    try:
        r = c.parse_authn_request_response(args.response, BINDING_HTTP_POST, outstanding=outstanding)
    except Exception as e:  # pysaml2 refuses with many exception types
        print(f"refused: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    if r is None:
        print("refused: no response", file=sys.stderr)
        sys.exit(1)
    print(
        json.dumps(
            {
                "name_id": r.name_id.text,
                "name_id_format": r.name_id.format,
                "issuer": r.issuer(),
                "attributes": r.get_identity(),
                "authn_context": r.authn_info()[0][0] if r.authn_info() else None,
                "in_response_to": r.in_response_to,
            }
        )
    )


def logout(args):
    from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID

    c = client(args.idp_metadata, True)
    idp = idp_entity_id(args.idp_metadata)
    binding = BINDING_HTTP_REDIRECT if args.binding == "redirect" else BINDING_HTTP_POST
    destination = c.metadata.single_logout_service(idp, binding, "idpsso")[0]["location"]
    name_id = NameID(text=args.name_id, format=NAMEID_FORMAT_EMAILADDRESS)
    sign_post = binding == BINDING_HTTP_POST
    req_id, req = c.create_logout_request(
        destination,
        idp,
        name_id=name_id,
        sign=sign_post,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    info = c.apply_binding(
        binding,
        str(req),
        destination,
        relay_state="rs-logout",
        sign=not sign_post,
        sigalg=SIG_RSA_SHA256,
    )
    out = {"request_id": req_id}
    if binding == BINDING_HTTP_REDIRECT:
        out["url"] = dict(info["headers"])["Location"]
    else:
        out["url"] = destination
        out["saml_request"] = re.search(r'name="SAMLRequest" value="([^"]+)"', info["data"]).group(1)
    print(json.dumps(out))


def verify_logout(args):
    c = client(args.idp_metadata, False)
    try:
        r = c.parse_logout_request_response(args.response, BINDING_HTTP_POST)
    except Exception as e:
        print(f"refused: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    if r is None or not r.status_ok():
        print("refused: not a successful LogoutResponse", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"in_response_to": r.in_response_to, "issuer": r.issuer()}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("request")
    q.add_argument("--idp-metadata", required=True)
    q.add_argument("--binding", choices=["redirect", "post"], required=True)
    q.add_argument("--unsigned", action="store_true")
    q.add_argument("--relay-state", default="rs-pysaml2")
    q.set_defaults(run=request)
    v = sub.add_parser("verify")
    v.add_argument("--idp-metadata", required=True)
    v.add_argument("--response", required=True)
    v.add_argument("--request-id")
    v.set_defaults(run=verify)
    lo = sub.add_parser("logout")
    lo.add_argument("--idp-metadata", required=True)
    lo.add_argument("--binding", choices=["redirect", "post"], required=True)
    lo.add_argument("--name-id", required=True)
    lo.set_defaults(run=logout)
    vl = sub.add_parser("verify-logout")
    vl.add_argument("--idp-metadata", required=True)
    vl.add_argument("--response", required=True)
    vl.set_defaults(run=verify_logout)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
