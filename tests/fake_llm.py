"""A real OpenAI-compatible chat-completions server on 127.0.0.1, answering from a script.

For tests (and anyone who needs a model that answers deterministically over HTTP): it speaks
`POST /v1/chat/completions` (also without the `/v1` prefix), returns `usage`, and records every
request it got. Each script item answers one request, in order:

- a string: an assistant message with that text;
- `tool_call(name, **arguments)`: an assistant message calling one tool (OpenAI tools format);
- `status(code, message)`: an HTTP error with an OpenAI-style error body (429, 500, 400, ...);
- `delay(seconds, item)`: wait, then answer with `item`;
- a dict: a raw assistant message (`{"content": ..., "tool_calls": [...]}`), optionally with
  `"usage": {"prompt_tokens": n, "completion_tokens": m}`.

When the script runs out the server answers with `when_done` (by default a `submit` command).
Token counts are len(text) // 4 + 1 for the prompt (all message contents) and the completion,
unless an item gives its own usage.

Example:
    with FakeLLM(["```\\nls\\n```", status(429), "```\\nsubmit\\n```"]) as llm:
        ...  # point a client at llm.url + "/v1"
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SUBMIT = "Nothing left to do.\n```\nsubmit\n```"


def tool_call(name: str, **arguments: Any) -> dict:
    return {
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


def status(
    code: int,
    message: str = "",
    *,
    err_code: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict:
    return {
        "_status": code,
        "message": message or f"fake error {code}",
        "code": err_code,
        "headers": headers or {},
    }


def delay(seconds: float, item: Any) -> dict:
    return {"_delay": seconds, "item": item}


def _text_of(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        c = m.get("content")
        if isinstance(c, list):
            c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        parts.append(c or "")
        for tc in m.get("tool_calls") or []:
            parts.append(tc.get("function", {}).get("arguments", ""))
    return "".join(parts)


class FakeLLM:
    """A scripted chat-completions server; `url` is `http://127.0.0.1:<port>`."""

    def __init__(self, script: list[Any] | None = None, *, when_done: Any = SUBMIT) -> None:
        self.script = list(script or [])
        self.when_done = when_done
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._served = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                with fake._lock:
                    fake.requests.append(
                        {"path": self.path, "body": body, "headers": dict(self.headers)}
                    )
                    item = (
                        fake.script[fake._served]
                        if fake._served < len(fake.script)
                        else fake.when_done
                    )
                    fake._served += 1
                while isinstance(item, dict) and "_delay" in item:
                    time.sleep(item["_delay"])
                    item = item["item"]
                if isinstance(item, dict) and "_status" in item:
                    err = {
                        "error": {
                            "message": item["message"],
                            "type": "fake_error",
                            "code": item["code"],
                        }
                    }
                    return self._send(item["_status"], err, item["headers"])
                self._send(200, fake._completion(body, item))

            def _send(self, code: int, payload: dict, headers: dict | None = None):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout); nothing to answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _completion(self, body: dict, item: Any) -> dict:
        message = (
            {"role": "assistant", "content": item}
            if isinstance(item, str)
            else {
                "role": "assistant",
                "content": item.get("content"),
                **({"tool_calls": item["tool_calls"]} if item.get("tool_calls") else {}),
            }
        )
        usage = item.get("usage") if isinstance(item, dict) else None
        if usage is None:
            completion = _text_of([message])
            usage = {
                "prompt_tokens": len(_text_of(body.get("messages", []))) // 4 + 1,
                "completion_tokens": len(completion) // 4 + 1,
            }
        usage = {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}
        return {
            "id": f"chatcmpl-fake-{self._served}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                }
            ],
            "usage": usage,
        }

    @property
    def served(self) -> int:
        return self._served

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
