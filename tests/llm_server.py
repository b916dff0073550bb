"""A tiny OpenAI-compatible chat server of our own, for error injection in the LLM tests.

It answers `/v1/chat/completions` like a rewriting model would (scripted from the prompt: pairs
copied from the passage, a list of facts, the passage itself as paraphrase), counts requests,
and can fail the first N (or all after N) with HTTP 500, answer garbage, or stall past the
client's timeout.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def scripted_answer(prompt: str) -> str:
    passage = prompt.split("Passage: ", 1)[1].split("\n\n", 1)[0]
    sentences = re.split(r"(?<=\.) ", passage)
    if "questions" in prompt:
        words = sentences[0].split()
        return ("Sure! Here are the pairs:\n"
                f"1. Question: Who is the passage about?\nAnswer: {' '.join(words[:2])}\n"
                "2. Question: What colour is the moon?\nAnswer: bright purple\n"
                f"3. Question: Where is it set? Answer: {words[-1].rstrip('.')}\n")
    if "key facts" in prompt:
        return "Key facts:\n" + "\n".join(f"- {s}" for s in sentences[:3]) + "\n- It has 999 moons."
    return passage


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):   # keep pytest output clean
        pass

    def do_POST(self):   # noqa: N802 (http.server's name)
        srv = self.server
        with srv.lock:
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            self._answer(srv)
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _answer(self, srv):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with srv.lock:
            srv.requests += 1
            n = srv.requests
        if n <= srv.fail_first or n > srv.fail_after:
            return self._send(500, b'{"error": {"message": "injected failure"}}')
        if srv.mode == "garbage":
            return self._send(200, b"<html>not a completion</html>", "text/html")
        if srv.mode == "slow":
            time.sleep(srv.delay_s)
        prompt = body["messages"][-1]["content"]
        text = scripted_answer(prompt)
        out = {"id": f"c{n}", "object": "chat.completion", "created": 0, "model": body["model"],
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text}}],
               "usage": {"prompt_tokens": len(prompt.split()),
                         "completion_tokens": len(text.split()),
                         "total_tokens": len(prompt.split()) + len(text.split())}}
        self._send(200, json.dumps(out).encode())

    def _send(self, status, payload, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout test)
            pass


class FakeServer:
    """Context manager: `with FakeServer(mode=...) as srv: srv.url, srv.requests`."""

    def __init__(self, mode: str = "ok", fail_first: int = 0, delay_s: float = 0.0,
                 fail_after: float = float("inf")):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.mode, self.httpd.fail_first, self.httpd.delay_s = mode, fail_first, delay_s
        self.httpd.fail_after = fail_after   # every request after this many fails (a dying server)
        self.httpd.requests, self.httpd.lock = 0, threading.Lock()
        self.httpd.in_flight = self.httpd.max_in_flight = 0   # requests being answered at once
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        return self.httpd.requests

    @property
    def max_in_flight(self) -> int:
        return self.httpd.max_in_flight

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
