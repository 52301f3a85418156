"""An aiosmtpd server for the actions tests, on 127.0.0.1 and a free port.

usage: smtp_peer.py OUT_DIR MODE [CERT KEY]
  MODE starttls: STARTTLS offered and required, AUTH (PLAIN, LOGIN) only after it
  MODE plain:    no STARTTLS at all, AUTH offered in the clear (a client must not use it)
The credentials accepted are $PEER_USER / $PEER_PASSWORD. Every command's verb is appended to
OUT_DIR/commands.log; every accepted message is written to OUT_DIR/message-N.json. A recipient
at @rejected.test is refused with 550. Prints "READY <port>" once listening.
"""

import asyncio
import email
import email.policy
import json
import logging
import os
import ssl
import sys
import warnings

# The plain mode offers AUTH without TLS on purpose (the client must refuse to use it).
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
# A client that refuses our test certificate makes aiosmtpd log a traceback; that is the point.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

OUT, MODE = sys.argv[1], sys.argv[2]
USER = os.environ["PEER_USER"].encode()
PASSWORD = os.environ["PEER_PASSWORD"].encode()


def log(verb):
    with open(os.path.join(OUT, "commands.log"), "a") as f:
        f.write(verb + "\n")


class Handler:
    count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@rejected.test"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        Handler.count += 1
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        record = {
            # What a mail client would show: headers decoded, parts decoded (Python's email package).
            "parsed": {
                "subject": parsed["subject"],
                "from": parsed["from"],
                "to": parsed["to"],
                "cc": parsed["cc"],
                "bcc": parsed["bcc"],
                "header_names": sorted(set(k.lower() for k in parsed.keys())),
                "text": text.get_content() if text is not None else None,
                "html": html.get_content() if html is not None else None,
            },
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
            "login": session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data,
        }
        path = os.path.join(OUT, "message-%d.json" % Handler.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Ok: queued as %d" % Handler.count


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD:
        return AuthResult(success=True, auth_data=auth_data.login)
    return AuthResult(success=False, handled=False)


class RecordingSMTP(SMTP):
    async def smtp_EHLO(self, arg):
        log("EHLO")
        return await super().smtp_EHLO(arg)

    async def smtp_HELO(self, arg):
        log("HELO")
        return await super().smtp_HELO(arg)

    async def smtp_STARTTLS(self, arg):
        log("STARTTLS")
        return await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg):
        log("AUTH")
        return await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg):
        log("MAIL")
        return await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        log("RCPT")
        return await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg):
        log("DATA")
        return await super().smtp_DATA(arg)

    async def smtp_QUIT(self, arg):
        log("QUIT")
        return await super().smtp_QUIT(arg)


def factory():
    handler = Handler()
    if MODE == "starttls":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        return RecordingSMTP(
            handler,
            hostname="localhost",
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=authenticator,
        )
    return RecordingSMTP(
        handler,
        hostname="localhost",
        auth_required=True,
        auth_require_tls=False,
        authenticator=authenticator,
    )


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
