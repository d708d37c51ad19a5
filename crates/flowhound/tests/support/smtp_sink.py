"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1:PORT, each
message received written to DIR as NNNN.eml, with the envelope (X-MailFrom,
X-RcptTo) on top, and beside it NNNN.json: the envelope and each text part
decoded by Python's email package (quoted-printable, base64), so that tests
read what a mail client shows.

    python3 smtp_sink.py PORT DIR

Prints "ready" once it accepts connections; stops on SIGTERM or when stdin
closes (the test that started it ended).
"""

import email
import email.policy
import json
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Save:
    def __init__(self, out):
        self.out = out
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            name = os.path.join(self.out, "%04d.eml" % self.n)
        head = "X-MailFrom: %s\r\nX-RcptTo: %s\r\n" % (
            envelope.mail_from,
            ", ".join(envelope.rcpt_tos),
        )
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = [
            {"type": p.get_content_type(), "text": p.get_content()}
            for p in msg.walk()
            if p.get_content_maintype() == "text"
        ]
        decoded = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "parts": parts,
        }
        with open(name[:-4] + ".json", "w") as f:
            json.dump(decoded, f)
        tmp = name + ".tmp"
        with open(tmp, "wb") as f:
            f.write(head.encode())
            f.write(raw)
        os.rename(tmp, name)
        return "250 Message accepted for delivery"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    controller = Controller(Save(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
